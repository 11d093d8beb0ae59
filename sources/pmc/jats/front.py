"""Front matter: identifiers, journal, dates, subjects, keywords, and whether an item is an article.

Everything here reads `<front>` (`journal-meta`, `article-meta`); authors, affiliations,
correspondence and permissions are never read into text (the licence is sources/pmc/licenses.py).
"""
from __future__ import annotations

import re

from lxml import etree

from sources.pmc.jats.text import plain_text
from sources.pmc.ids import normalize_pmcid
from sources.xml_text import clean_text, iso_date

# Notices that are not articles: (related-)article types, and what a heading subject says.
NOT_ARTICLE = {
    "correction": "correction", "corrected-article": "correction", "erratum": "erratum",
    "retraction": "retraction", "retracted-article": "retraction",
    "expression-of-concern": "expression_of_concern", "object-of-concern": "expression_of_concern",
}
_NOT_ARTICLE_SUBJECT = re.compile(
    r"^(correction|corrigendum|erratum|retraction|retraction notice|expression of concern)s?$", re.I)
# Publication dates, best first: electronic, print, collection, PMC release, any other.
_DATE_RANK = {"epub": 0, "ppub": 1, "epub-ppub": 1, "collection": 2, "pmc-release": 3}


def article_meta(article: etree._Element) -> etree._Element | None:
    return article.find("front/article-meta")


def meta_children(article: etree._Element, tag: str) -> list[etree._Element]:
    """The `tag` children of `<article-meta>` (`abstract`, `pub-date`, `related-article`)."""
    meta = article_meta(article)
    return meta.findall(tag) if meta is not None else []


def article_ids(article: etree._Element) -> dict[str, str]:
    """pmcid (normalised `PMCnnn`), pmid (digits), doi (lower-cased, no resolver prefix), as given."""
    ids: dict[str, str] = {}
    for node in article.iterfind("front/article-meta/article-id"):
        kind = (node.get("pub-id-type") or "").lower()
        value = (node.text or "").strip()
        if not value:
            continue
        if kind in ("pmc", "pmcid", "pmc-uid", "accession") and "pmcid" not in ids:
            pmcid = normalize_pmcid(value)
            if pmcid:
                ids["pmcid"] = pmcid
        elif kind == "pmid" and value.isdigit():
            ids.setdefault("pmid", value)
        elif kind == "doi":
            ids.setdefault("doi", re.sub(r"^(?:doi:\s*|https?://(?:dx\.)?doi\.org/)", "", value, flags=re.I).lower())
    return ids


def title_element(article: etree._Element, tag: str) -> etree._Element | None:
    """`article-title` or `subtitle` of the article's title group."""
    meta = article_meta(article)
    return meta.find(f"title-group/{tag}") if meta is not None else None


def journal(article: etree._Element) -> str | None:
    for path in ("front/journal-meta/journal-title-group/journal-title", "front/journal-meta/journal-title"):
        text = clean_text(article.findtext(path))
        if text:
            return text
    return None


def nlm_ta(article: etree._Element) -> str | None:
    """The journal's NLM title abbreviation."""
    return clean_text(article.findtext("front/journal-meta/journal-id[@journal-id-type='nlm-ta']")) or None


def subjects(article: etree._Element, group_type: str | None = None) -> list[etree._Element]:
    """The article's subjects, all or those of one `subj-group-type` ("heading")."""
    meta = article_meta(article)
    if meta is None:
        return []
    groups = meta.iterfind("article-categories/subj-group")
    return [subject for group in groups if group_type is None or group.get("subj-group-type") == group_type
            for subject in group.iterfind("subject")]


def subject_texts(article: etree._Element) -> list[str]:
    return [text for text in map(plain_text, subjects(article)) if text]


def keywords(article: etree._Element) -> list[str]:
    return [text for text in map(plain_text, article.iterfind("front/article-meta/kwd-group/kwd")) if text]


def publication_date(article: etree._Element) -> str | None:
    """ISO date: electronic publication first, then print, collection, PMC release, any other."""
    ranked: list[tuple[int, str]] = []
    for node in meta_children(article, "pub-date"):
        kind = (node.get("pub-type") or node.get("date-type") or "").lower()
        rank = _DATE_RANK.get(kind, 4)
        if kind == "pub":
            rank = 0 if (node.get("publication-format") or "").lower() == "electronic" else 1
        value = iso_date(node.findtext("year"), node.findtext("month"), node.findtext("day"))
        if value:
            ranked.append((rank, value))
    return min(ranked)[1] if ranked else None


def not_article_reason(article: etree._Element, article_type: str | None) -> str | None:
    """correction | erratum | retraction | expression_of_concern, or None for an article."""
    if article_type in NOT_ARTICLE:
        return NOT_ARTICLE[article_type]
    for subject in subjects(article, "heading"):
        text = plain_text(subject)
        if _NOT_ARTICLE_SUBJECT.match(text):
            return NOT_ARTICLE.get(text.lower().split()[0], text.lower().replace(" ", "_"))
    # A notice typed "other" or "article-commentary" still says what it is through its link.
    if article_type in (None, "other", "article-commentary", "addendum"):
        for related in meta_children(article, "related-article"):
            kind = (related.get("related-article-type") or "").lower()
            if kind in NOT_ARTICLE:
                return NOT_ARTICLE[kind]
    return None
