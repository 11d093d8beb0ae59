"""Canadian Paediatric Society position statements and practice points (cps.ca).

Tested on pages built in the tests after the layout MEDITRON's scraper used (document text in
`div.main-body`); not checked against the live site. MEDITRON took its CPS links from a SPOR PDF
snapshot; we crawl the site's own document listing. Copyrighted: not redistributable.
"""
from sources.guidelines.site import COPYRIGHTED_MEDITRON_LAYOUT, Sections, Site

CPS = Site(
    name="cps",
    source="cps",
    description="Canadian Paediatric Society position statements and practice points",
    base_url="https://cps.ca",
    **COPYRIGHTED_MEDITRON_LAYOUT,
    start_urls=("/en/documents",),
    index_links=(r"^/en/documents(\?page=\d+)?$",),
    page_links=(r"^/en/documents/position/[a-z0-9-]+$",),
    body=("//div[contains(@class,'main-body')]", "//main"),
    sections=Sections(stop=(r"^(cps )?(committee|acknowledge?ments)\b",), drop=(r"^disclaimer\b",)),
    rate=0.5,
    max_pages=1000,
)

SITES = (CPS,)
