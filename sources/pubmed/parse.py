"""PubMed XML (baseline, update and E-utilities efetch files) -> documents, deletions, errors.

One streaming pass per file through the hardened XML layer. Each `PubmedArticle` or
`PubmedBookArticle` becomes a `Record` (a full document, with a drop reason when it has no
abstract), each `DeleteCitation` a `Deletion`, and a record that cannot be extracted a
`RecordError`; a file-level failure is raised after everything readable has been yielded.

Speed matters (the baseline is ~1,300 files of 30,000 records; benchmarks/bench_pubmed_parse.py):
the stream is filtered to record elements in C, each article is read in ONE tag-filtered walk
(lxml proxies only for the ~40 elements we use, no per-field path lookups), #PCDATA fields are
taken as they are, and recursive flattening runs only for the few texts with inline markup.
"""
from __future__ import annotations

import hashlib
import html
import re
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import BinaryIO, Iterator, Union

from lxml import etree

from curation.schema import dump_meta, make_document
from sources.safe_io import DEFAULT_MAX_BYTES, open_bytes, open_input, sha256_file
from sources.safe_xml import iterparse_safe

SOURCE = "pubmed"
SUBSET = "abstracts"
URL = "https://pubmed.ncbi.nlm.nih.gov/{}/"
ARTICLE, BOOK, DELETE = "PubmedArticle", "PubmedBookArticle", "DeleteCitation"
_TAGS = (ARTICLE, BOOK, DELETE)
_MATHML = "{http://www.w3.org/1998/Math/MathML}"
_MONTHS = {m: i for i, m in enumerate(
    ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"), start=1)}
_MEDLINE_DATE = re.compile(r"(\d{4})(?:[\s/-]+([A-Za-z]{3}))?")
# Escaped entities left in the text by double-escaping upstream ("&amp;lt;" parses to "&lt;").
# A terminating ";" is required, so "R&D" or "AT&T" stay as they are.
_ENTITY = re.compile(r"&(?:#[0-9]{1,7}|#[xX][0-9a-fA-F]{1,6}|[A-Za-z][A-Za-z0-9]{1,31});")
_PMCID = re.compile(r"PMC[0-9]+")
_DOI_PREFIX = re.compile(r"^(?:doi:\s*|https?://(?:dx\.)?doi\.org/)", re.IGNORECASE)


@dataclass(frozen=True)
class Record:
    """One PubmedArticle / PubmedBookArticle."""

    pmid: str
    version: int
    doc: dict
    drop_reason: str | None  # e.g. "no_abstract"; None means keep


@dataclass(frozen=True)
class Deletion:
    """One DeleteCitation: PMIDs that earlier files added and that must now go."""

    pmids: tuple[str, ...]


@dataclass(frozen=True)
class RecordError:
    """A record that could not be extracted; the rest of the file goes on."""

    record: str  # the PMID if known, else "#<index of the record in the file>"
    error: str


Item = Union[Record, Deletion, RecordError]


# --------------------------------------------------------------------------- public API


def iter_file(
    path: str | Path,
    provenance: str | None = None,
    *,
    sha256: str | None = None,
    max_bytes: int = DEFAULT_MAX_BYTES,
) -> Iterator[Item]:
    """Records, deletions and record errors of one PubMed XML file (plain or gzip), in order.

    `provenance` names the file in each document's provenance (default: `path` as given);
    `sha256` may be passed when already known (the raw-store manifest) to skip hashing.
    Raises InputError / HostileInputError for a file-level failure, after yielding everything
    read before it.
    """
    label = str(path) if provenance is None else provenance
    digest = sha256 or sha256_file(path)
    with open_input(path, max_bytes=max_bytes) as stream:
        yield from _iter_stream(stream, str(path), label, digest)


def scan_file(path: str | Path, *, max_bytes: int = DEFAULT_MAX_BYTES) -> Iterator[tuple[str, str, int]]:
    """A cheap pass: ("record", pmid, version) and ("delete", pmid, 0), in file order.

    Used to resolve versions and deletions across files before the full parse. Records without
    a PMID are skipped here (the full parse reports them as RecordError). Same errors as iter_file.
    """
    with open_input(path, max_bytes=max_bytes) as stream:
        for element in iterparse_safe(stream, _TAGS, name=str(path)):
            if element.tag == DELETE:
                for pmid in _deleted_pmids(element):
                    yield ("delete", pmid, 0)
                continue
            pmid_el = element.find("MedlineCitation/PMID" if element.tag == ARTICLE else "BookDocument/PMID")
            pmid = _clean_pmid(pmid_el)
            if pmid:
                yield ("record", pmid, _version(pmid_el))


def parse_bytes(data: bytes, provenance: str = "<bytes>", *, max_bytes: int = DEFAULT_MAX_BYTES) -> list[Item]:
    """Everything `iter_file` yields for an in-memory document (tests, E-utilities bodies)."""
    with open_bytes(data, provenance, max_bytes=max_bytes) as stream:
        return list(_iter_stream(stream, provenance, provenance, hashlib.sha256(data).hexdigest()))


# --------------------------------------------------------------------------- records


def _iter_stream(stream: BinaryIO, name: str, label: str, digest: str) -> Iterator[Item]:
    provenance = _Provenance(label, digest)
    index = 0
    for element in iterparse_safe(stream, _TAGS, name=name):
        tag = element.tag
        if tag == DELETE:
            yield Deletion(tuple(_deleted_pmids(element)))
            continue
        yield _record(element, tag == BOOK, index, provenance)
        index += 1


class _Provenance:
    """The provenance JSON of record `index` of one file: equal to dump_meta's, built faster."""

    def __init__(self, label: str, digest: str):
        # dump_meta sorts keys: "file" < "record" < "sha256"; only the record number varies.
        self._head = dump_meta({"file": label})[:-1] + ',"record":'
        self._tail = ',"sha256":' + dump_meta({"": digest})[4:]

    def __call__(self, index: int) -> str:
        return f"{self._head}{index}{self._tail}"


def _record(element: etree._Element, is_book: bool, index: int, provenance: _Provenance) -> Record | RecordError:
    """Extract one record; any failure becomes a RecordError so the file goes on."""
    pmid = None
    try:
        citation = _child(element, "BookDocument" if is_book else "MedlineCitation")
        if citation is None:
            raise ValueError(f"no {'BookDocument' if is_book else 'MedlineCitation'}")
        pmid_el = _child(citation, "PMID")
        pmid = _clean_pmid(pmid_el)
        if not pmid:
            raise ValueError("no PMID")
        fields = _book_fields(element, citation) if is_book else _article_fields(element, citation)
        return _build(pmid, _version(pmid_el), fields, provenance(index))
    except Exception as exc:  # one bad record must not stop the file (DESIGN: error ledger)
        return RecordError(record=pmid or f"#{index}", error=f"{type(exc).__name__}: {exc}")


# Tags read in one pre-order walk of a PubmedArticle (lxml filters them in C). The walk relies on
# the DTD's fixed order: Article (journal, title, abstract, authors, languages, types) comes
# before MedlineJournalInfo; after it, names belong to investigators or personal-name subjects
# and AbstractText to OtherAbstract, neither of which we read. In PubmedData the record's own
# ArticleIdList precedes ReferenceList, whose ArticleIds are the cited works': we stop there.
_ARTICLE_WALK = (
    "Title", "ISOAbbreviation", "PubDate", "ArticleTitle", "ELocationID", "AbstractText",
    "LastName", "ForeName", "CollectiveName", "Language", "PublicationType",
    "VernacularTitle", "ArticleDate", "MedlineJournalInfo", "NameOfSubstance", "DescriptorName",
    "QualifierName", "OtherID", "Keyword", "PublicationStatus", "ArticleId", "ReferenceList",
)


def _article_fields(element: etree._Element, citation: etree._Element) -> dict:
    in_article = True
    title = vernacular = ""
    journal = iso = status = elocation_doi = doi = pmcid = other_pmcid = None
    pub_date = article_date = None
    sections: list[str] = []
    languages: list[str] = []
    types: list[str] = []
    chemicals: list[str] = []
    keywords: list[str] = []
    mesh: list[str] = []
    mesh_major: list[str] = []
    authors: list[str] = []
    descriptor_major = False
    for node in element.iter(_ARTICLE_WALK):
        tag = node.tag
        if in_article:
            # Author names first: they are the most frequent elements of the walk.
            if tag == "LastName":
                authors.append(_leaf(node))
            elif tag == "ForeName":
                if authors and authors[-1]:
                    authors[-1] = _author_name(authors[-1], _leaf(node))
            elif tag == "CollectiveName":
                authors.append(_text(node))
            elif tag == "AbstractText":
                _add_section(sections, node)
            elif tag == "Language" or tag == "PublicationType":
                value = _leaf(node)
                if value:
                    (languages if tag == "Language" else types).append(value)
            elif tag == "ArticleTitle":
                title = _text(node)
            elif tag == "Title":
                journal = _leaf(node) or None
            elif tag == "ISOAbbreviation":
                iso = _leaf(node) or None
            elif tag == "PubDate":
                pub_date = _date(node)
            elif tag == "ELocationID":
                if elocation_doi is None and node.get("EIdType") == "doi" and node.get("ValidYN") != "N":
                    elocation_doi = _clean_doi(node.text or "")
            elif tag == "VernacularTitle":
                vernacular = _text(node)
            elif tag == "ArticleDate":
                if article_date is None:
                    article_date = node
            elif tag == "MedlineJournalInfo":
                in_article = False
        elif tag == "DescriptorName":
            if descriptor_major:
                mesh_major.append(mesh[-1])
            value = _leaf(node)
            descriptor_major = bool(value) and node.get("MajorTopicYN") == "Y"
            if value:
                mesh.append(value)
        elif tag == "QualifierName":
            if mesh and node.get("MajorTopicYN") == "Y":
                descriptor_major = True
        elif tag == "Keyword":
            value = _text(node)  # keywords may carry inline markup
            if value:
                keywords.append(value)
        elif tag == "NameOfSubstance":
            value = _leaf(node)
            if value:
                chemicals.append(value)
        elif tag == "ArticleId":
            kind = node.get("IdType")
            if kind == "doi" and doi is None:
                doi = _clean_doi(node.text or "")
            elif kind == "pmc" and pmcid is None:
                pmcid = _clean_pmcid(node.text or "")
        elif tag == "OtherID":
            match = _PMCID.search(node.text or "")  # older records give the PMCID only here
            if match and other_pmcid is None:
                other_pmcid = match.group(0)
        elif tag == "PublicationStatus":
            status = _leaf(node) or None
        elif tag == "ReferenceList":
            break
    if descriptor_major:
        mesh_major.append(mesh[-1])
    if pub_date is None and article_date is not None:
        pub_date = _date(article_date)
    meta = {
        "kind": "article",
        "status": citation.get("Status"),
        "journal": journal,
        "iso_abbreviation": iso,
        "publication_status": status,
        "publication_types": types,
        "languages": languages,
        "authors": [name for name in authors if name],
        "chemicals": chemicals,
        "keywords": keywords,
        "mesh": mesh,
        "mesh_major": mesh_major,
    }
    return {
        "title": title,
        "vernacular": vernacular,
        "abstract": "\n".join(sections),
        "languages": languages,
        "doi": doi or elocation_doi,
        "pmcid": pmcid or other_pmcid,
        "date": pub_date,
        "meta": meta,
    }


def _book_fields(element: etree._Element, document: etree._Element) -> dict:
    """A Bookshelf chapter or book (BookDocument / PubmedBookData instead of MedlineCitation)."""
    book = document.find("Book")
    languages = _texts(document, "Language")
    doi, pmcid = _ids(element.find("PubmedBookData/ArticleIdList"))
    if doi is None:
        doi = _ids(document.find("ArticleIdList"))[0]
    book_title = _text(book.find("BookTitle")) if book is not None else ""
    meta = {
        "kind": "book",
        "status": None,
        "book_title": book_title or None,
        "publisher": _clean(book.findtext("Publisher/PublisherName")) if book is not None else None,
        "publication_status": element.findtext("PubmedBookData/PublicationStatus"),
        "publication_types": _texts(document, "PublicationType"),
        "languages": languages,
        "authors": _authors(document) or (_authors(book) if book is not None else []),
        "chemicals": [],
        "keywords": _texts(document, "KeywordList/Keyword"),
        "mesh": [],  # Bookshelf records carry no MeSH indexing
        "mesh_major": [],
    }
    return {
        # A chapter has its own ArticleTitle; a whole-book record only the BookTitle.
        "title": _text(document.find("ArticleTitle")) or book_title,
        "vernacular": _text(document.find("VernacularTitle")),
        "abstract": _abstract(document.find("Abstract")),
        "languages": languages,
        "doi": doi,
        "pmcid": pmcid,
        "date": _date(book.find("PubDate")) if book is not None else None,
        "meta": meta,
    }


def _child(parent: etree._Element, tag: str) -> etree._Element | None:
    """`parent.find(tag)`, trying the first child first: the DTD puts MedlineCitation and PMID there."""
    if len(parent) and parent[0].tag == tag:
        return parent[0]
    return parent.find(tag)


def _build(pmid: str, version: int, f: dict, provenance: str) -> Record:
    title = f["title"]
    vernacular = f["vernacular"]
    if not title and vernacular:
        title = vernacular
    elif title.startswith("[") and (vernacular or "eng" not in f["languages"]):
        title = _strip_translation_brackets(title)
    abstract = f["abstract"]
    if abstract:
        text, drop = (f"{title}\n{abstract}" if title else abstract), None
    else:
        text, drop = title, ("no_abstract" if title else "no_text")
    meta = f["meta"]
    meta["version"] = version
    if vernacular:
        meta["vernacular_title"] = vernacular
    doc = make_document(
        id=f"pubmed:{pmid}",
        source=SOURCE,
        subset=SUBSET,
        title=title,
        text=text,
        url=URL.format(pmid),
        pmid=pmid,
        pmcid=f["pmcid"],
        doi=f["doi"],
        license=None,
        date=f["date"],
        meta=dump_meta(meta),
        provenance=provenance,
    )
    return Record(pmid=pmid, version=version, doc=doc, drop_reason=drop)


# --------------------------------------------------------------------------- fields


def _abstract(abstract: etree._Element | None) -> str:
    """Abstract sections of an Abstract element, one per line (see `_add_section`)."""
    sections: list[str] = []
    if abstract is not None:
        for section in abstract.iterfind("AbstractText"):
            _add_section(sections, section)
    return "\n".join(sections)


def _add_section(sections: list[str], section: etree._Element) -> None:
    """Append "LABEL: text" (or just the text when unlabelled) for one AbstractText.

    The printed `Label` is kept rather than `NlmCategory` (NLM's mapping), as the issue asks.
    CopyrightInformation is a sibling of AbstractText, so it is never read; neither is
    OtherAbstract, which lives outside Abstract.
    """
    body = _text(section)
    if not body:
        return
    label = section.get("Label")
    if label:
        label = _clean(label).rstrip(":").strip()
    sections.append(f"{label}: {body}" if label else body)


def _ids(id_list: etree._Element | None) -> tuple[str | None, str | None]:
    """(doi, pmcid) from a record's own ArticleIdList (never ReferenceList's cited works)."""
    doi = pmcid = None
    if id_list is not None:
        for aid in id_list.iterfind("ArticleId"):
            kind = aid.get("IdType")
            if kind == "doi" and doi is None:
                doi = _clean_doi(aid.text or "")
            elif kind == "pmc" and pmcid is None:
                pmcid = _clean_pmcid(aid.text or "")
    return doi, pmcid


def _clean_pmcid(value: str) -> str | None:
    """"PMC8818254" whether given as "PMC8818254", "pmc8818254" or "8818254"."""
    value = value.strip()
    digits = value[3:] if value[:3].upper() == "PMC" else value
    return f"PMC{digits}" if digits.isdigit() else None


def _authors(parent: etree._Element) -> list[str]:
    """Author names of a BookDocument or Book (its authors, not its editors)."""
    names = []
    for author_list in parent.iterfind("AuthorList"):
        if author_list.get("Type", "authors") != "authors":
            continue
        for author in author_list.iterfind("Author"):
            last = _text(author.find("LastName")) or _text(author.find("CollectiveName"))
            fore = _text(author.find("ForeName"))
            if last:
                names.append(_author_name(last, fore))
    return names


def _author_name(last: str, fore: str) -> str:
    """"LastName, ForeName", or the last (or collective) name alone."""
    return f"{last}, {fore}" if fore else last


def _date(node: etree._Element | None) -> str | None:
    """ISO date (YYYY-MM-DD, YYYY-MM or YYYY) of a PubDate/ArticleDate, or None.

    A Season gives the year only (no month is implied); a free-text MedlineDate such as
    "1998 Dec-1999 Jan" gives its first year and month.
    """
    if node is None:
        return None
    # One pass over the (2-4) children instead of a path lookup per part: this runs per record.
    parts = {child.tag: child.text for child in node}
    year = (parts.get("Year") or "").strip()
    if year:
        if not (len(year) == 4 and year.isdigit()):
            return None
        month = _month(parts.get("Month"))
        if month is None:
            return year
        day = (parts.get("Day") or "").strip()
        if day.isdigit():
            try:
                return date(int(year), month, int(day)).isoformat()
            except ValueError:
                pass
        return f"{year}-{month:02d}"
    medline = parts.get("MedlineDate")
    if medline:
        match = _MEDLINE_DATE.search(medline)
        if match:
            month = _month(match.group(2))
            return f"{match.group(1)}-{month:02d}" if month else match.group(1)
    return None


def _month(value: str | None) -> int | None:
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        number = int(value)
        return number if 1 <= number <= 12 else None
    return _MONTHS.get(value[:3].lower())


def _deleted_pmids(element: etree._Element) -> list[str]:
    return [p for p in (_clean_pmid(node) for node in element.iterfind("PMID")) if p]


def _clean_pmid(node: etree._Element | None) -> str | None:
    if node is None or not node.text:
        return None
    value = node.text.strip()
    return value if value.isdigit() else None


def _version(node: etree._Element | None) -> int:
    raw = node.get("Version") if node is not None else None
    return int(raw) if raw and raw.isdigit() else 1


def _clean_doi(value: str) -> str | None:
    value = _DOI_PREFIX.sub("", value.strip()).lower()
    return value or None


# --------------------------------------------------------------------------- text


def _texts(node: etree._Element, path: str) -> list[str]:
    """Cleaned, non-empty texts of the elements at `path` (markup-free leaf elements)."""
    return [t for t in (_text(e) for e in node.iterfind(path)) if t]


def _leaf(node: etree._Element) -> str:
    """Text of an element the DTD declares #PCDATA (names, MeSH, languages): no markup to flatten.

    The hot path of the parser, hence no flattening or unescaping here (see `_text`).
    """
    value = node.text
    return value.strip() if value else ""


def _text(node: etree._Element | None) -> str:
    """Readable text of an element: inline markup flattened, entities unescaped once, spaces normalised."""
    if node is None:
        return ""
    if len(node) == 0:
        return _clean(node.text)
    return _clean("".join(_flatten(node, [])))


def _clean(raw: str | None) -> str:
    if not raw:
        return ""
    if "&" in raw:
        raw = _ENTITY.sub(lambda m: html.unescape(m.group(0)), raw)
    return " ".join(raw.split())


def _flatten(node: etree._Element, parts: list[str]) -> list[str]:
    """Text of `node` and its descendants in document order (i, b, sup, sub, u -> their text).

    MathML is pretty-printed in PubMed files; its layout whitespace is dropped so that
    <mml:mi>O</mml:mi><mml:mn>2</mml:mn> reads "O2". Unresolved entity references (DTD-only
    names such as &nbsp;) keep their "&name;" text, which `_clean` then unescapes.
    """
    if node.text:
        parts.append(node.text)
    for child in node:
        tag = child.tag
        if isinstance(tag, str):
            if tag.startswith(_MATHML):
                parts.append("".join(t.strip() for t in child.itertext()))
            else:
                _flatten(child, parts)
        elif tag is etree.Entity:
            parts.append(child.text or "")
        # comments and processing instructions carry no text of the record
        if child.tail:
            parts.append(child.tail)
    return parts


def _strip_translation_brackets(title: str) -> str:
    """"[English title]." -> "English title." (PubMed's mark for a translated title)."""
    depth = 0
    for position, char in enumerate(title):
        if char == "[":
            depth += 1
        elif char == "]":
            depth -= 1
            if depth == 0:
                return _clean(title[1:position] + title[position + 1:])
    return title
