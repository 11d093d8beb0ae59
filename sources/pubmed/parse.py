"""PubMed XML (baseline, update and E-utilities efetch files) -> documents, deletions, errors.

One streaming pass per file through the hardened XML layer. Each `PubmedArticle` or
`PubmedBookArticle` becomes a `Record` (a full document, with a drop reason when it has no
abstract, `no_abstract`, or no usable PMID, `no_pmid`), each `DeleteCitation` a `Deletion`, and a
record that cannot be extracted a `RecordError`; a file-level failure is raised after everything
readable has been yielded. The stage counts records apart from this parser, from the bytes
(sources/pubmed/record_scan.py).

Speed matters (the baseline is ~1,300 files of 30,000 records; benchmarks/bench_pubmed_parse.py):
the stream is filtered to record elements in C, each article is read in ONE tag-filtered walk
(lxml proxies only for the ~40 elements we use, no per-field path lookups), #PCDATA fields are
taken as they are, and recursive flattening runs only for the few texts with inline markup.
"""
from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, Iterator, Union

from lxml import etree

from curation.schema import dump_meta
from sources.mathml import MML, math_text, spaced_in_sentence
from sources.xml_text import clean_text as _clean
from sources.xml_text import iso_date, month_number
from sources.safe_io import DEFAULT_MAX_BYTES, open_bytes, open_stream
from sources.snapshot import FileSnapshot, open_raw, sha256_handle
from sources.safe_xml import iterparse_safe

SOURCE = "pubmed"
SUBSET = "abstracts"
URL = "https://pubmed.ncbi.nlm.nih.gov/{}/"
ARTICLE, BOOK, DELETE = "PubmedArticle", "PubmedBookArticle", "DeleteCitation"
_TAGS = (ARTICLE, BOOK, DELETE)
_MEDLINE_DATE = re.compile(r"(\d{4})(?:[\s/-]+([A-Za-z]{3}))?")
_PMCID = re.compile(r"PMC[0-9]+")
_DOI_PREFIX = re.compile(r"^(?:doi:\s*|https?://(?:dx\.)?doi\.org/)", re.IGNORECASE)
_DOI_PREFIX_START = frozenset("dDhH")


@dataclass(frozen=True)
class Record:
    """One PubmedArticle / PubmedBookArticle."""

    pmid: str | None  # None only with drop_reason "no_pmid"
    version: int
    doc: dict
    drop_reason: str | None  # e.g. "no_abstract", "no_pmid"; None means keep


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
    snapshot: FileSnapshot | None = None,
    max_bytes: int = DEFAULT_MAX_BYTES,
) -> Iterator[Item]:
    """Records, deletions and record errors of one PubMed XML file (plain or gzip), in order.

    `provenance` names the file in each document's provenance (default: `path` as given). The
    file is opened once (sources/snapshot.py): without `snapshot` it is hashed, then parsed, from
    that handle; with the `snapshot` an earlier pass took (the stage's record scan, which hashed
    the bytes it read) the handle must be on that same file, else InputError "changed while the
    stage read it" before any record, and its hash is the provenance's.
    Raises InputError / HostileInputError for a file-level failure, after yielding everything
    read before it.
    """
    label = str(path) if provenance is None else provenance
    with open_raw(path) as raw:
        if snapshot is None:
            digest = sha256_handle(raw)
        else:
            snapshot.check(raw, str(path))
            digest = snapshot.sha256
        with open_stream(raw, str(path), max_bytes) as stream:
            yield from _iter_stream(stream, str(path), label, digest)


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
        self.digest = digest
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
        fields = _book_fields(element, citation) if is_book else _article_fields(element, citation)
        if not pmid:
            # Still a document of the input: ledgered under an id made of the file's hash and
            # the record's position (stable across runs), never silently skipped.
            return _build(None, 1, fields, provenance(index), f"no_pmid:{provenance.digest[:16]}:{index}")
        version = pmid_el.get("Version")
        version = int(version) if version and version.isdigit() else 1
        return _build(pmid, version, fields, provenance(index))
    except Exception as exc:  # one bad record must not stop the file (DESIGN: error ledger)
        return RecordError(record=pmid or f"#{index}", error=f"{type(exc).__name__}: {exc}")


# Tags read in one pre-order walk of a PubmedArticle (lxml filters them in C). The walk relies on
# the DTD's fixed order: Article (journal, title, abstract, authors, languages, types) comes
# before MedlineJournalInfo; after it, names belong to investigators or personal-name subjects
# and AbstractText to OtherAbstract, neither of which we read. In PubmedData the record's own
# ArticleIdList precedes ReferenceList, whose ArticleIds are the cited works': the cited PMIDs
# are taken there in one XPath call, and the walk stops.
_ARTICLE_WALK = (
    "Title", "ISOAbbreviation", "Volume", "Issue", "PubDate", "ArticleTitle", "MedlinePgn",
    "ELocationID", "AbstractText", "LastName", "ForeName", "CollectiveName", "Identifier", "Affiliation",
    "Language", "Grant", "PublicationType", "VernacularTitle", "ArticleDate", "MedlineJournalInfo",
    "NameOfSubstance", "DescriptorName", "QualifierName", "OtherID", "Keyword", "PublicationStatus",
    "ArticleId", "ReferenceList",
)
# Bibliographic fields pubmed_parser also gives, kept in meta (none is training text):
# MedlineJournalInfo's children and a Grant's children, by tag.
_JOURNAL_INFO = {"Country": "country", "MedlineTA": "medline_ta", "NlmUniqueID": "nlm_unique_id",
                 "ISSNLinking": "issn_linking"}
_GRANT_PARTS = {"GrantID": "id", "Acronym": "acronym", "Agency": "agency", "Country": "country"}


def _article_fields(element: etree._Element, citation: etree._Element) -> dict:
    """Every field of a PubmedArticle in one walk (see _ARTICLE_WALK). The hot path of the parser:
    #PCDATA texts are read inline (stripped), only mixed-content ones go through `_text`."""
    in_article = True
    title = vernacular = ""
    journal = iso = status = elocation_doi = doi = pmcid = other_pmcid = None
    volume = issue = pages = None
    pub_date = article_date = None
    journal_info: dict = {}
    sections: list[str] = []
    languages: list[str] = []
    types: list[str] = []
    chemicals: list[str] = []
    keywords: list[str] = []
    mesh: list[str] = []
    mesh_major: list[str] = []
    authors: list[str] = []
    affiliations: list[str] = []
    grants: list[dict] = []
    other_ids: list[str] = []
    references: list[str] = []
    author_ids: list[list[str]] = []
    descriptor_major = named = False
    author = -1
    for node in element.iter(_ARTICLE_WALK):
        tag = node.tag  # tested in order of frequency
        if tag == "ArticleId":
            kind = node.get("IdType")
            if kind == "doi":
                if doi is None:
                    doi = _clean_doi(node.text or "")
            elif kind == "pmc" and pmcid is None:
                pmcid = _clean_pmcid(node.text or "")
        elif tag == "DescriptorName":
            if descriptor_major:
                mesh_major.append(mesh[-1])
            value = node.text
            if value and (value := value.strip()):
                mesh.append(value)
                descriptor_major = node.get("MajorTopicYN") == "Y"
            else:
                descriptor_major = False
        elif tag == "LastName":
            # Names after MedlineJournalInfo are investigators' or subjects': not authors.
            if in_article:
                value = node.text
                if value and (value := value.strip()):
                    authors.append(value)
                    named = True  # a ForeName that follows joins this name
                    author = len(authors) - 1  # and an Identifier this author
                else:
                    named = False
                    author = -1
        elif tag == "ForeName":
            if in_article and named:
                named = False
                value = node.text
                if value and (value := value.strip()):
                    authors[-1] = f"{authors[-1]}, {value}"
        elif tag == "Affiliation":
            author = -1  # Identifiers from here on are the affiliation's (GRID, ISNI)
            if in_article:
                # Metadata, not text: stripped only, unless it carries markup or entities.
                value = node.text
                if len(node) or (value and "&" in value):
                    value = _text(node)
                if value and (value := value.strip()):
                    affiliations.append(value)
        elif tag == "QualifierName":
            if mesh and node.get("MajorTopicYN") == "Y":
                descriptor_major = True
        elif tag == "Keyword":
            value = _text(node)  # keywords may carry inline markup
            if value:
                keywords.append(value)
        elif tag == "NameOfSubstance":
            value = node.text
            if value and (value := value.strip()):
                chemicals.append(value)
        elif tag == "PublicationType":
            value = node.text
            if value and (value := value.strip()):
                types.append(value)
        elif tag == "Language":
            value = node.text
            if value and (value := value.strip()):
                languages.append(value)
        elif tag == "AbstractText":
            if in_article:  # not OtherAbstract's
                _add_section(sections, node)
        elif tag == "CollectiveName":
            if in_article:
                named = False
                value = _text(node)
                if value:
                    authors.append(value)
                author = len(authors) - 1 if value else -1
        elif tag == "Identifier":
            if in_article and author >= 0 and (value := node.text) and (value := value.strip()):
                author_ids.append([authors[author], node.get("Source") or "", value])
        elif tag == "Title":
            journal = _leaf(node) or None
        elif tag == "ISOAbbreviation":
            iso = _leaf(node) or None
        elif tag == "Volume":
            volume = _leaf(node) or None
        elif tag == "Issue":
            issue = _leaf(node) or None
        elif tag == "PubDate":
            pub_date = _date(node)
        elif tag == "ArticleTitle":
            title = _text(node)
        elif tag == "MedlinePgn":
            pages = _leaf(node) or None
        elif tag == "ELocationID":
            if elocation_doi is None and node.get("EIdType") == "doi" and node.get("ValidYN") != "N":
                elocation_doi = node.text or ""  # cleaned below, if no ArticleId gives the DOI
        elif tag == "Grant":
            grant = {_GRANT_PARTS[child.tag]: value for child in node
                     if child.tag in _GRANT_PARTS and (value := _leaf(child))}
            if grant:
                grants.append(grant)
        elif tag == "VernacularTitle":
            vernacular = _text(node)
        elif tag == "ArticleDate":
            if article_date is None:
                article_date = node
        elif tag == "MedlineJournalInfo":
            in_article = False
            for child in node:
                key = _JOURNAL_INFO.get(child.tag)
                if key is not None and (value := child.text) and (value := value.strip()):
                    journal_info[key] = value
        elif tag == "OtherID":
            value = _leaf(node)
            match = _PMCID.search(value)  # older records give the PMCID only here
            if match:
                if other_pmcid is None:
                    other_pmcid = match.group(0)
            elif value:
                other_ids.append(value)
        elif tag == "PublicationStatus":
            status = _leaf(node) or None
        elif tag == "ReferenceList":
            parent = node.getparent()
            for reference_list in (parent.iterfind("ReferenceList") if parent is not None else (node,)):
                for aid in reference_list.iter("ArticleId"):
                    if aid.get("IdType") == "pubmed" and (value := aid.text) and (value := value.strip()):
                        references.append(value)
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
        "authors": authors,
        "chemicals": chemicals,
        "keywords": keywords,
        "mesh": mesh,
        "mesh_major": mesh_major,
        # Bibliographic detail (pubmed_parser's other fields), only when the record has it.
        **journal_info,
    }
    if volume:
        meta["volume"] = volume
    if issue:
        meta["issue"] = issue
    if pages:
        meta["pages"] = pages
    if author_ids:
        meta["author_ids"] = author_ids  # [author, source (ORCID), identifier]
    if affiliations:
        meta["affiliations"] = list(dict.fromkeys(affiliations))  # distinct, in order
    if grants:
        meta["grants"] = grants
    if other_ids:
        meta["other_ids"] = other_ids
    if references:
        meta["cited_pmids"] = references
    return {
        "title": title,
        "vernacular": vernacular,
        "abstract": "\n".join(sections),
        "languages": languages,
        "doi": doi or (_clean_doi(elocation_doi) if elocation_doi else None),
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
    for first in parent:
        if first.tag == tag:
            return first
        break
    return parent.find(tag)


def _build(pmid: str | None, version: int, f: dict, provenance: str, no_pmid_key: str | None = None) -> Record:
    """The Record of extracted fields `f`; without a `pmid`, a `no_pmid` drop keyed by `no_pmid_key`."""
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
    if pmid is None:
        drop = "no_pmid"
    meta = f["meta"]
    meta["version"] = version
    if vernacular:
        meta["vernacular_title"] = vernacular
    # make_document's row, built directly (this runs per record): every column, same values.
    doc = {
        "id": f"pubmed:{pmid or no_pmid_key}",
        "source": SOURCE,
        "subset": SUBSET,
        "title": title,
        "text": text,
        "url": URL.format(pmid) if pmid else "",
        "pmid": pmid,
        "pmcid": f["pmcid"],
        "doi": f["doi"],
        "license": None,
        "date": f["date"],
        "lang": None,
        "lang_score": None,
        "meta": dump_meta(meta),
        "provenance": provenance,
    }
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
    year = month_text = day = medline = None
    for child in node:
        tag = child.tag
        if tag == "Year":
            year = child.text
        elif tag == "Month":
            month_text = child.text
        elif tag == "Day":
            day = child.text
        elif tag == "MedlineDate":
            medline = child.text
    if year and year.strip():
        return iso_date(year, month_text, day)
    if medline:
        match = _MEDLINE_DATE.search(medline)
        if match:
            month = month_number(match.group(2))
            return f"{match.group(1)}-{month:02d}" if month else match.group(1)
    return None


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
    value = value.strip()
    if value[:1] in _DOI_PREFIX_START:  # "doi:" or "http(s)://doi.org/" may lead
        value = _DOI_PREFIX.sub("", value)
    return value.lower() or None


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


def _flatten(node: etree._Element, parts: list[str]) -> list[str]:
    """Text of `node` and its descendants in document order (i, b, sup, sub, u -> their text).

    MathML is read as in JATS full text (sources/mathml.py: "V.O2max", "129Xe"), spaced from the
    words only where it would touch them ("3He/129Xe MRI"). Unresolved entity references (DTD-only
    names such as &nbsp;) keep their "&name;" text, which `_clean` then unescapes.
    """
    if node.text:
        parts.append(node.text)
    for child in node:
        tag = child.tag
        if isinstance(tag, str):
            if tag.startswith(MML):
                parts.append(spaced_in_sentence(math_text(child), _last_text(parts), child.tail or ""))
            else:
                _flatten(child, parts)
        elif tag is etree.Entity:
            parts.append(child.text or "")
        # comments and processing instructions carry no text of the record
        if child.tail:
            parts.append(child.tail)
    return parts


def _last_text(parts: list[str]) -> str:
    """The last non-empty piece of text so far."""
    for part in reversed(parts):
        if part:
            return part
    return ""


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
