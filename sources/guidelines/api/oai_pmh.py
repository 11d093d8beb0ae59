"""OAI-PMH adapter (WHO IRIS, a DSpace repository): ListRecords in oai_dc, then each record's PDF.

Discovery pages through `verb=ListRecords&metadataPrefix=oai_dc[&set=...]` and then
`verb=ListRecords&resumptionToken=...` (OAI-PMH 2.0 §3.5). A record is a candidate when its
dc:type matches the site's `types` option and its dc:language its `languages` option; its full
text is the first dc:identifier / dc:relation that names a PDF bitstream (`.pdf`, or a DSpace
`/bitstream/` or `/bitstreams/.../download` link). Each PDF is fetched with the record's title,
date and licence in the manifest, so parsing needs no second look at the list.

Every record of a list response is accounted for when that response is parsed: candidates
without a PDF are ledgered `no_fulltext`, other types `not_a_guideline_type`; deleted records
(header status="deleted") are skipped.

Tested on responses built from the OAI-PMH 2.0 specification and DSpace's oai_dc output, not on
recorded IRIS responses: that IRIS lists bitstream links in dc:identifier is an assumption to
check against the live endpoint.
"""
from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING
from urllib.parse import urlencode

from curation.schema import make_document
from sources.errors import RemoteError
from sources.guidelines.parse import (
    SUBSET,
    Outcome,
    ParseOptions,
    document_id,
    parse_page,
)
from sources.guidelines.site import Site
from sources.guidelines.store import PDF_TYPES, XML_TYPES, StoredPage
from sources.safe_xml import parse_bytes_safe

if TYPE_CHECKING:  # annotations only: `guidelines parse` imports the adapter, not the fetcher and its HTTP client
    from sources.guidelines.fetcher import Fetcher

OAI = "{http://www.openarchives.org/OAI/2.0/}"
DC = "{http://purl.org/dc/elements/1.1/}"
_PDF_LINK = re.compile(r"^https?://\S+(\.pdf(\?\S*)?$|/bitstream/\S+|/bitstreams/\S+/download$)", re.IGNORECASE)
_LICENCES = (
    (re.compile(r"cc\s*by[- ]nc[- ]sa\s*3\.0\s*igo", re.IGNORECASE), "CC-BY-NC-SA-3.0-IGO"),
    (re.compile(r"cc\s*by[- ]nc[- ]sa\s*4\.0", re.IGNORECASE), "CC-BY-NC-SA-4.0"),
    (re.compile(r"cc\s*by\s*4\.0", re.IGNORECASE), "CC-BY-4.0"),
)


@dataclass(frozen=True)
class OaiRecord:
    identifier: str
    title: str
    date: str | None
    types: tuple[str, ...]
    languages: tuple[str, ...]
    rights: str | None
    links: tuple[str, ...]  # dc:identifier and dc:relation values

    @property
    def pdf(self) -> str | None:
        return next((link for link in self.links if _PDF_LINK.match(link)), None)

    @property
    def handle(self) -> str | None:
        return next((link for link in self.links if "/handle/" in link), None)


def parse_list(data: bytes, name: str) -> tuple[list[OaiRecord], str | None]:
    """(records, resumption token or None) of one ListRecords response."""
    root = parse_bytes_safe(data, name)
    error = root.find(f"{OAI}error")
    if error is not None:
        if error.get("code") == "noRecordsMatch":
            return [], None
        raise RemoteError(f"{name}: OAI-PMH error {error.get('code')}: {(error.text or '').strip()}")
    records = []
    for record in root.iter(f"{OAI}record"):
        header = record.find(f"{OAI}header")
        if header is None or header.get("status") == "deleted":
            continue
        texts = lambda tag: tuple(" ".join(e.text.split()) for e in record.iter(f"{DC}{tag}") if e.text and e.text.strip())
        dates = texts("date")
        records.append(OaiRecord(
            identifier=(header.findtext(f"{OAI}identifier") or "").strip(),
            title=(texts("title") or ("",))[0],
            date=_iso(dates[0]) if dates else None,
            types=texts("type"), languages=texts("language"),
            rights=" ".join(texts("rights")) or None,
            links=texts("identifier") + texts("relation"),
        ))
    token = root.find(f".//{OAI}resumptionToken")
    return records, (token.text.strip() if token is not None and token.text and token.text.strip() else None)


def _iso(value: str) -> str | None:
    match = re.match(r"(\d{4})(-\d{2})?(-\d{2})?", value)
    return "".join(g for g in match.groups() if g) if match else None


def licence(rights: str | None) -> str | None:
    for pattern, name in _LICENCES:
        if rights and pattern.search(rights):
            return name
    return None


class OaiPmh:
    def list_url(self, site: Site, token: str | None) -> str:
        if token:
            params = {"verb": "ListRecords", "resumptionToken": token}
        else:
            params = {"verb": "ListRecords", "metadataPrefix": "oai_dc"}
            if site.option("set"):
                params["set"] = site.option("set")
        return site.url(site.option("endpoint", "/oai/request")) + "?" + urlencode(params)

    def wanted(self, site: Site, record: OaiRecord) -> bool:
        types = re.compile(site.option("types", "guideline"), re.IGNORECASE)
        languages = re.compile(site.option("languages", "^en"), re.IGNORECASE)
        return any(types.search(t) for t in record.types) and (
            not record.languages or any(languages.search(lang) for lang in record.languages))

    def discover(self, site: Site, fetcher: Fetcher, limit: int) -> None:
        token, fetched = None, 0
        while True:
            listing = fetcher.fetch(self.list_url(site, token), "api", accept=XML_TYPES)
            if listing is None:
                return
            records, token = parse_list(listing.read(), listing.url)
            for record in records:
                if fetched >= limit:
                    return
                if self.wanted(site, record) and record.pdf and site.relative(record.pdf) is not None:
                    fetched += 1
                    fetcher.fetch(record.pdf, "page", accept=PDF_TYPES, meta={
                        "title": record.title, "date": record.date, "license": licence(record.rights),
                        "oai_identifier": record.identifier, "handle": record.handle,
                    })
            if not token:
                return

    def parse(self, site: Site, page: StoredPage, options: ParseOptions) -> Iterator[Outcome]:
        if page.role == "page":
            yield from parse_page(site, page, options)
            return
        records, _ = parse_list(page.read(), page.url)
        for record in records:
            if self.wanted(site, record) and record.pdf and site.relative(record.pdf) is not None:
                continue  # its PDF is a page of its own
            reason = "no_fulltext" if self.wanted(site, record) else "not_a_guideline_type"
            url = record.handle or record.identifier
            doc = make_document(
                id=document_id(site, url), source=site.id_prefix, subset=SUBSET, title=record.title, text="",
                url=url, license=licence(record.rights), date=record.date,
                meta={"site": site.name, "oai_identifier": record.identifier, "types": list(record.types)},
                provenance=page.provenance,
            )
            yield Outcome(doc, reason, f"dc:type {', '.join(record.types) or 'none'}; links {len(record.links)}")
