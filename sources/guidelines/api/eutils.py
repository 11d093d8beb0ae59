"""E-utilities adapter: the PubMed guideline subset (MEDITRON's 17th source).

Discovery: ESearch over PubMed for the publication types Guideline and Practice Guideline, paged
with retstart (retmax 10,000 is ESearch's ceiling), then EFetch in batches of PMIDs. Batch URLs are
built from the stored ESearch pages, so a resumed run asks only for batches it lacks. The history
server (WebEnv) is deliberately not used: its keys change per run and would defeat resume. No API
key is sent (stored URLs must never hold one): the default 3 requests/s applies.

Parsing reuses the project's PubMed XML parser (sources.pubmed.parse) and re-labels each record
as a guideline document: source `guidelines/pubmed`, id from the PubMed URL, `pmid` kept so the
dedup stage links it to the same record in the PubMed abstracts and to its PMC full text.

Tested on responses built from the E-utilities documentation's ESearch/EFetch formats (and the
real PubMed records in ../shared/fixtures/pubmed_xml as EFetch bodies).
"""
from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING
from urllib.parse import urlencode

from sources.errors import RemoteError
from sources.guidelines.parse import Outcome, ParseOptions, finish
from sources.guidelines.site import Site
from sources.guidelines.store import XML_TYPES, StoredPage
from sources.safe_xml import parse_bytes_safe

if TYPE_CHECKING:  # annotations only: `guidelines parse` imports the adapter, not the fetcher and its HTTP client
    from sources.guidelines.fetcher import Fetcher

SEARCH_PAGE = 10_000
FETCH_BATCH = 200


def parse_search(data: bytes, name: str) -> tuple[int, list[str]]:
    """(total count, PMIDs) of one ESearch response; an ERROR element is a RemoteError."""
    root = parse_bytes_safe(data, name)
    error = root.findtext("ERROR")
    if error:
        raise RemoteError(f"{name}: ESearch error: {error.strip()}")
    count = int(root.findtext("Count") or 0)
    return count, [e.text.strip() for e in root.iterfind("IdList/Id") if e.text and e.text.strip()]


class EUtils:
    def _url(self, site: Site, tool: str, **params: str) -> str:
        params.update(tool="medcurate", email=site.option("email", "medcurate@example.org"))
        return site.url(f"{site.option('eutils', '/entrez/eutils')}/{tool}.fcgi") + "?" + urlencode(params)

    def search_url(self, site: Site, start: int, size: int) -> str:
        return self._url(site, "esearch", db="pubmed", term=site.option("term"), retstart=str(start),
                         retmax=str(size), sort="pub_date")

    def fetch_url(self, site: Site, pmids: list[str]) -> str:
        return self._url(site, "efetch", db="pubmed", id=",".join(pmids), retmode="xml")

    def discover(self, site: Site, fetcher: Fetcher, limit: int) -> None:
        pmids: list[str] = []
        start = 0
        while len(pmids) < limit:
            size = min(SEARCH_PAGE, limit - len(pmids))
            page = fetcher.fetch(self.search_url(site, start, size), "api", accept=XML_TYPES)
            if page is None:
                break
            count, ids = parse_search(page.read(), page.url)
            pmids.extend(ids)
            start += len(ids)
            if not ids or start >= count:
                break
        pmids = pmids[:limit]
        for i in range(0, len(pmids), FETCH_BATCH):
            fetcher.fetch(self.fetch_url(site, pmids[i:i + FETCH_BATCH]), "page", accept=XML_TYPES)

    def parse(self, site: Site, page: StoredPage, options: ParseOptions) -> Iterator[Outcome]:
        if page.role != "page":
            return
        from sources.pubmed.parse import (  # the PubMed source, only when used
            Record,
            RecordError,
            parse_bytes,
        )

        for item in parse_bytes(page.read(), page.url):
            if isinstance(item, RecordError):
                raise RemoteError(f"{page.url}: record {item.record}: {item.error}")
            if not isinstance(item, Record):
                continue
            doc = item.doc
            outcome = finish(
                site, page, url=doc["url"], title=doc["title"], text=doc["text"], date=doc["date"],
                pmid=doc["pmid"], pmcid=doc["pmcid"], doi=doc["doi"], license=doc["license"],
                meta={"pubmed_meta": doc["meta"]},
            )
            if item.drop_reason:
                outcome = Outcome(outcome.doc, item.drop_reason, "from the PubMed parser")
            yield outcome
