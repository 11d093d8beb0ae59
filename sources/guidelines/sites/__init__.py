"""The registry of guideline sites: one module per site (or family), each exporting SITES."""
from __future__ import annotations

from sources.guidelines.site import Site
from sources.guidelines.sites import (
    aafp,
    ahrq,
    cdc,
    cps,
    idsa,
    nice,
    pubmed,
    rch,
    who,
    wikidoc,
)

SITES: dict[str, Site] = {site.name: site for module in (cdc, who, nice, wikidoc, aafp, idsa, cps, rch, ahrq, pubmed)
                          for site in module.SITES}

# Sites MEDITRON scraped that we do not: why, for the docs and `list-sites`.
UNSUPPORTED = {
    "magic": "MAGICapp is a JavaScript single-page app (app.magicapp.org/#/guidelines): no server-rendered HTML to parse",
    "guidelinecentral": "content behind a JavaScript search UI that MEDITRON could only drive non-headless",
    "mayo": "patient-facing pages, not clinical guidelines; MEDITRON kept only Symptoms/Diagnosis sections",
    "drugs": "dosing monographs, not guidelines; drugs.com's terms forbid scraping",
    "icrc": "no site to crawl: MEDITRON downloaded a prebuilt tarball from an author's personal page",
    "cco": "links came from a committed SPOR PDF snapshot; the PDF buttons need a browser",
    "spor": "a database front-end that needs a browser to reach its PDFs",
    "cma": "CMA Joule CPG Infobase needs a browser (cookie pop-up, viewer DOM for PDFs)",
}


class UnknownSiteError(ValueError):
    pass


def get_site(name: str) -> Site:
    try:
        return SITES[name]
    except KeyError:
        known = ", ".join(sorted(SITES))
        hint = f" ({UNSUPPORTED[name]})" if name in UNSUPPORTED else ""
        raise UnknownSiteError(f"unknown guideline site {name!r}{hint}; known: {known}") from None
