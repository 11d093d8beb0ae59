"""One stored response -> guideline documents, each kept or ledgered with its reason.

The shared path for every adapter: extraction (HTML or PDF) -> section rules (common + site) ->
cleaning -> title first -> the not-a-guideline checks -> a schema document whose id is
`guidelines/<source>:<sha256 of the canonical URL, 16 hex>`.
"""
from __future__ import annotations

import hashlib
import re
from collections.abc import Iterator
from dataclasses import dataclass

from curation.schema import make_document
from sources.errors import InputError
from sources.guidelines.classify import classify
from sources.guidelines.clean import clean_text
from sources.guidelines.html_extract import extract_html
from sources.guidelines.pdf_extract import extract_pdf
from sources.guidelines.sections import COMMON, apply_sections
from sources.guidelines.site import Site
from sources.guidelines.store import HTML_TYPES, PDF_TYPES, StoredPage, media_type

SUBSET = "guidelines"


@dataclass(frozen=True)
class ParseOptions:
    grobid_url: str | None = None  # GROBID server for PDFs; None: pypdf


@dataclass(frozen=True)
class Outcome:
    doc: dict
    reason: str | None  # None: the document goes on
    detail: str | None = None


def document_id(site: Site, canonical_url: str) -> str:
    return f"{site.id_prefix}:{hashlib.sha256(canonical_url.encode('utf-8')).hexdigest()[:16]}"


def title_first(title: str, text: str) -> str:
    """MEDITRON's layout: the title as the first line, once."""
    first = text.split("\n", 1)[0]
    if first.startswith("#") or not title:
        return text
    if first.strip().lower() == title.strip().lower():
        return f"# {text}"
    return f"# {title}\n\n{text}" if text else f"# {title}"


def finish(site: Site, page: StoredPage, *, url: str, title: str, text: str, date: str | None = None,
           meta: dict | None = None, link_density: float = 0.0, pmid: str | None = None,
           pmcid: str | None = None, doi: str | None = None, license: str | None = None) -> Outcome:
    """Sections, cleaning and the guideline checks over extracted text; the shared tail of every adapter."""
    raw_text = text
    text = clean_text(apply_sections(text, COMMON.merged(site.sections)))
    heading = next((line.lstrip("#").strip() for line in text.split("\n") if line.startswith("# ")), "")
    title = " ".join((title or heading).split())
    text = title_first(title, text)
    canonical = site.canonical_url(url)
    doc = make_document(
        id=document_id(site, canonical), source=site.id_prefix, subset=SUBSET, title=title, text=text,
        url=canonical, pmid=pmid, pmcid=pmcid, doi=doi, license=license or site.license, date=date,
        meta={"site": site.name, "redistributable": site.redistributable, "role": page.role,
              "content_type": media_type(page.content_type), **(meta or {})},
        provenance=page.provenance,
    )
    verdict = classify(title, text, raw_text=raw_text, role=page.role, link_density=link_density,
                       min_words=site.min_words, drop_if=site.drop_if)
    return Outcome(doc, verdict.reason, verdict.detail)


def charset(content_type: str | None) -> str | None:
    match = re.search(r"charset=[\"']?([\w.-]+)", content_type or "", re.IGNORECASE)
    return match.group(1) if match else None


def parse_page(site: Site, page: StoredPage, options: ParseOptions = ParseOptions()) -> Iterator[Outcome]:
    """An HTML or PDF guideline page (the link crawler's pages and the API modules' full texts)."""
    kind = media_type(page.content_type)
    data = page.read()
    if kind in PDF_TYPES:
        pdf = extract_pdf(data, grobid_url=options.grobid_url)
        meta = {"pdf_pages": pdf.pages, "extractor": pdf.engine, **page.meta}
        yield finish(site, page, url=page.url, title=page.meta.get("title") or pdf.title, text=pdf.text,
                     date=page.meta.get("date"), meta=meta, license=page.meta.get("license"))
    elif kind in HTML_TYPES:
        html = extract_html(data, body=site.body, remove=site.remove, encoding=charset(page.content_type))
        meta = {"body_matched": html.body_matched, **({"rights": html.rights} if html.rights else {}), **page.meta}
        yield finish(site, page, url=page.url, title=html.title, text=html.text, date=html.date,
                     meta=meta, link_density=html.link_density)
    else:
        raise InputError(f"{page.url}: unsupported content type {page.content_type!r}")
