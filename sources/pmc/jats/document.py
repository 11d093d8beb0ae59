"""One article -> one document (the schema of curation/schema.py), or a ledger entry.

The text is the title, the kept abstracts (`# Abstract`), the body, floats kept apart from it
(`<floats-group>`), appendices and, when asked, back matter and sub-articles. An item that is not
an article (correction, retraction, erratum, expression of concern) or has nothing to train on
comes back with a drop reason for the ledger.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping

from lxml import etree

from curation.schema import dump_meta, make_document
from sources.pmc import licenses
from sources.pmc.jats import front
from sources.pmc.jats.options import JatsOptions
from sources.pmc.jats.renderer import Renderer
from sources.pmc.jats.text import strip_formatting

SOURCE = "pmc"
SUBSET = "papers"
URL = "https://pmc.ncbi.nlm.nih.gov/articles/{}/"
XML_LANG = "{http://www.w3.org/XML/1998/namespace}lang"


@dataclass(frozen=True)
class Article:
    """One article: a document, with a drop reason when it must go to the ledger instead."""

    doc: dict
    drop_reason: str | None = None
    detail: str | None = None


def render_article(article: etree._Element, provenance: Mapping[str, Any], options: JatsOptions,
                   wrapper: str = "nxml") -> Article:
    ids = front.article_ids(article)  # as written, before formatting tags are merged away
    strip_formatting(article)
    renderer = Renderer(article, options)
    title = _title(article, renderer)
    article_type = (article.get("article-type") or "").strip().lower() or None
    license_code, license_raw = licenses.article_license(article)
    abstract_elements = front.meta_children(article, "abstract")
    abstracts = renderer.abstracts(abstract_elements)
    body = renderer.container(article.find("body"), depth=1)
    floats = renderer.container(article.find("floats-group"), depth=1)
    back = renderer.back(article.find("back"))
    sub_articles = renderer.sub_articles() if options.sub_articles else []

    blocks = abstracts + body + floats + back + sub_articles
    meta = {
        "journal": front.journal(article),
        "nlm_ta": front.nlm_ta(article),
        "article_type": article_type,
        "subjects": front.subject_texts(article),
        "keywords": front.keywords(article),
        "language": article.get(XML_LANG),
        "license_raw": (license_raw or "")[:500] or None,
        "has_body": bool(body),
        "abstract_types": sorted({(a.get("abstract-type") or "main") for a in abstract_elements}),
        "wrapper": wrapper,
        "formulas_image_only": renderer.image_only_formulas,
        "render": options.to_dict(),
    }
    doc = make_document(
        id=_doc_id(ids, provenance),
        source=SOURCE,
        subset=SUBSET,
        title=title,
        text="\n\n".join([title] + blocks if title else blocks),
        url=_url(ids),
        pmid=ids.get("pmid"),
        pmcid=ids.get("pmcid"),
        doi=ids.get("doi"),
        license=license_code,
        date=front.publication_date(article),
        meta=dump_meta(meta),
        provenance=dump_meta(dict(provenance)),
    )
    reason = front.not_article_reason(article, article_type)
    if reason:
        return Article(doc, f"not_article:{reason}", f"article-type {article_type}")
    if not body and not abstracts:
        return Article(doc, "no_text", "no abstract and no body text")
    if not body and not options.abstract_only:
        return Article(doc, "no_body", "abstract only")
    return Article(doc)


def _title(article: etree._Element, renderer: Renderer) -> str:
    """"Title: subtitle" as running text."""
    title = renderer.inline_text(front.title_element(article, "article-title"))
    subtitle = renderer.inline_text(front.title_element(article, "subtitle"))
    if subtitle:
        return f"{title.rstrip(':')}: {subtitle}" if title else subtitle
    return title


def _doc_id(ids: dict, provenance: Mapping[str, Any]) -> str:
    """`pmc:PMCnnn`; articles outside PMC (a publisher's own JATS) fall back to DOI, PMID, bytes."""
    if ids.get("pmcid"):
        return f"pmc:{ids['pmcid']}"
    if ids.get("doi"):
        return f"pmc:doi:{ids['doi']}"
    if ids.get("pmid"):
        return f"pmc:pmid:{ids['pmid']}"
    return f"pmc:sha256:{str(provenance.get('sha256', ''))[:32]}#{provenance.get('record', 0)}"


def _url(ids: dict) -> str:
    if ids.get("pmcid"):
        return URL.format(ids["pmcid"])
    return f"https://doi.org/{ids['doi']}" if ids.get("doi") else ""
