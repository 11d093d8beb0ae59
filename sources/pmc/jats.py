"""JATS (PMC full text) -> training documents.

Accepts the three wrappers PMC serves: a plain `.nxml` `<article>`, efetch's `<pmc-articleset>`
(several articles) and an OAI-PMH GetRecord answer whose `<article>` is in the default JATS
namespace (stripped here, JATS tags only: MathML and xlink keep theirs).

A document's text is the title, the main abstract (`# Abstract`), then the body with section
headings by depth (`#`, `##`, `###`), paragraphs, lists (`- `) and boxed text. Renderings that a
corpus builder may want either way are `JatsOptions` (defaults follow MEDITRON where it was
right): citations, figure/table references, captions, table bodies, formulas, extra abstract
types, back-matter sections, sub-articles, abstract-only articles. Always removed: reference
lists, authors, affiliations, correspondence and metadata footnotes. Notices that are not
articles (corrections, retractions, errata, expressions of concern) and items with no text come
back with a drop reason, for the ledger.
"""
from __future__ import annotations

import hashlib
import html
import re
from dataclasses import dataclass, fields
from functools import lru_cache
from datetime import date
from typing import Any, Mapping, Union

from lxml import etree

from curation.schema import dump_meta, make_document
from sources.xml_text import MONTHS as _MONTHS
from sources.xml_text import ENTITY as _ENTITY
from sources.xml_text import clean_text as _clean
from sources.errors import InputError
from sources.pmc import licenses
from sources.pmc.listing import normalize_pmcid
from sources.safe_xml import parse_bytes_safe

SOURCE = "pmc"
SUBSET = "papers"
URL = "https://pmc.ncbi.nlm.nih.gov/articles/{}/"
MML = "{http://www.w3.org/1998/Math/MathML}"
_MATH = f"{MML}math"
_ANNOTATIONS = (f"{MML}annotation", f"{MML}annotation-xml")
XLINK_HREF = "{http://www.w3.org/1999/xlink}href"
OAI = "{http://www.openarchives.org/OAI/2.0/}"
_JATS_NS = ("{https://jats.nlm.nih.gov/ns/", "{http://jats.nlm.nih.gov/ns/")

# Elements whose text never belongs in running text.
_SKIP = frozenset({
    "ref-list", "contrib-group", "contrib", "aff", "aff-alternatives", "author-notes", "corresp",
    "fn", "fn-group", "object-id", "graphic", "inline-graphic", "media", "target", "label",
    "permissions", "history", "alt-text", "long-desc", "attrib", "processing-meta", "sub-article",
})
_BLOCKS = frozenset({
    "p", "sec", "list", "fig", "fig-group", "table-wrap", "table-wrap-group", "disp-formula",
    "disp-formula-group", "boxed-text", "disp-quote", "def-list", "statement", "supplementary-material",
    "preformat", "code", "verse-group", "speech", "glossary", "array", "table", "ref-list",
    "chem-struct-wrap", "title", "caption", "question-wrap", "answer", "explanation",
})
# Blocks that break a paragraph into lines of their own.
_PARAGRAPH_BLOCKS = _BLOCKS - {"title", "caption", "label"}
_NOT_ARTICLE = {
    "correction": "correction", "corrected-article": "correction", "erratum": "erratum",
    "retraction": "retraction", "retracted-article": "retraction",
    "expression-of-concern": "expression_of_concern", "object-of-concern": "expression_of_concern",
}
_NOT_ARTICLE_SUBJECT = re.compile(r"^(correction|corrigendum|erratum|retraction|retraction notice|expression of concern)s?$", re.I)
_MAIN_ABSTRACT_TYPES = frozenset({"", "main", "abstract", "structured", "unstructured"})
_BACK_MATTER_SEC_TYPES = frozenset({
    "supplementary-material", "coi-statement", "funding-information", "funding", "author-contributions",
    "data-availability", "ack", "acknowledgment", "acknowledgments", "abbreviations", "supplementary-materials",
})
_BACK_MATTER_TITLE = re.compile(
    r"^\s*(?:\d+(?:\.\d+)*\.?\s*)?(?:acknowledge?ments?|funding(?: information| sources?| statement)?|financial (?:support|disclosures?)"
    r"|(?:declaration of )?competing (?:financial )?interests?|conflicts? of interests?(?: statement)?|disclosures?"
    r"|authors?'? ?(?:s )?contributions?|contributors(?:hip)?|abbreviations|list of abbreviations|data (?:availability|accessibility|sharing)(?: statement)?"
    r"|availability of data(?: and materials?)?|supplementary (?:materials?|information|data|files?)|supporting information"
    r"|additional files?|electronic supplementary material)\s*:?\s*$",
    re.IGNORECASE,
)
_METADATA_FN_TYPES = frozenset({
    "abbr", "com", "con", "conflict", "coi-statement", "corresp", "current-aff", "deceased", "edited-by",
    "equal", "financial-disclosure", "on-leave", "other", "participating-researchers", "present-address",
    "presented-at", "presented-by", "previously-at", "study-group-members", "supplementary-material", "supported-by",
})
_CIT = "\ue000"
_CIT_END = "\ue001"
_CIT_TOKEN = rf"{_CIT}\d+{_CIT_END}"
_CIT_SEP = r"(?:\s*(?:[,;\u2013\u2014\u2212-]|and|&)\s*|\s+)"
_CIT_GROUP = re.compile(
    rf"[\[(]\s*(?:(?:see|e\.g\.|cf\.|reviewed in|for (?:a )?review,? see)\s*,?\s*)?{_CIT_TOKEN}(?:{_CIT_SEP}{_CIT_TOKEN})*\s*[\])]"
)
_CIT_RUN = re.compile(rf"{_CIT_TOKEN}(?:{_CIT_SEP}?{_CIT_TOKEN})*")
_CIT_ONE = re.compile(rf"{_CIT}(\d+){_CIT_END}")
# Applied to cleaned text (single spaces only): the space before closing punctuation goes.
_SPACE_BEFORE_PUNCT = re.compile(r" (?=[.,;:!?)\]])")
# Applied to text whose only whitespace is the ASCII space, in the same pass: a space followed by
# another space goes too, so a run of spaces keeps only its last one (the collapse of
# `" ".join(raw.split())` but for the ends).
_SPARE_SPACE = re.compile(r" (?=[ .,;:!?)\]])")
_EMPTY_BRACKETS = re.compile(r"\(\s*[,;]?\s*\)|\[\s*[,;]?\s*\]")
# Formatting elements carry no meaning for training text: merged into their parents up front
# (in C, one pass), so the Python walk only meets elements that need a decision.
_FORMATTING = (
    "italic", "bold", "sc", "underline", "overline", "monospace", "roman", "sans-serif", "strike", "sub",
    "named-content", "styled-content", "ext-link", "uri", "abbrev", "email", "underline-start", "underline-end",
    "inline-supplementary-material", "glyph-data", "price", "x",
)
_FORMATTING_TAGS = frozenset(_FORMATTING)
_NUMERIC_SUP = re.compile(r"^[\s0-9.+\-\u2212\u2013]+$")
_TEX_DOC = re.compile(r"\\begin\{document\}(.*?)\\end\{document\}", re.S)
_TEX_DELIMS = re.compile(r"^\s*(?:\$\$|\$|\\\[|\\\()\s*|\s*(?:\$\$|\$|\\\]|\\\))\s*$")


@dataclass(frozen=True)
class JatsOptions:
    """How an article is rendered; every field has the corpus default."""

    citations: str = "drop"  # drop | meditron ("[bib_ref] cited title…, Author [/bib_ref]")
    figure_refs: str = "plain"  # plain ("Figure 2") | meditron ("[fig_ref] Figure 2: caption… [/fig_ref]")
    captions: str = "tagged"  # tagged ([fig] … [/fig], [table] … [/table]) | plain | drop
    tables: str = "drop"  # drop (caption only) | linearize (rows as "cell | cell" lines)
    formulas: str = "tagged"  # display formulas: tagged ([formula] … [/formula]) | plain | drop; inline math stays text
    abstract_types: frozenset = frozenset()  # other abstracts to keep: summary, graphical, teaser, …, or "all"
    back_matter: bool = False  # keep acknowledgements, funding, contributions, … sections
    sub_articles: bool = False  # keep reviewer reports, decision letters, responses
    abstract_only: bool = True  # an article with an abstract but no body is still a document

    _CHOICES = {
        "citations": ("drop", "meditron"), "figure_refs": ("plain", "meditron"),
        "captions": ("tagged", "plain", "drop"), "tables": ("drop", "linearize"),
        "formulas": ("tagged", "plain", "drop"),
    }

    def __post_init__(self) -> None:
        for name, choices in self._CHOICES.items():
            if getattr(self, name) not in choices:
                raise ValueError(f"pmc option {name}={getattr(self, name)!r}: expected one of {', '.join(choices)}")
        object.__setattr__(self, "abstract_types", frozenset(t.lower() for t in self.abstract_types))

    @classmethod
    def from_mapping(cls, values: Mapping[str, Any] | None) -> "JatsOptions":
        """Options from params.yaml / the command line; unknown keys are an error, None means default."""
        known = {f.name for f in fields(cls)}
        values = {k: v for k, v in (values or {}).items() if v is not None}
        unknown = set(values) - known
        if unknown:
            raise ValueError(f"unknown pmc render options: {sorted(unknown)}")
        if "abstract_types" in values:
            values["abstract_types"] = frozenset(values["abstract_types"])
        return cls(**values)

    def to_dict(self) -> dict:
        out = {f.name: getattr(self, f.name) for f in fields(self)}
        out["abstract_types"] = sorted(self.abstract_types)
        return out


@dataclass(frozen=True)
class Article:
    """One article: a document, with a drop reason when it must go to the ledger instead."""

    doc: dict
    drop_reason: str | None = None
    detail: str | None = None


@dataclass(frozen=True)
class ArticleError:
    record: str
    error: str


Item = Union[Article, ArticleError]


# --------------------------------------------------------------------------- entry points


def parse_bytes(data: bytes, provenance: Mapping[str, Any] | str = "<bytes>", options: JatsOptions | None = None,
                *, name: str | None = None) -> list[Item]:
    """Every article of one JATS document (any wrapper). InputError when the document is unreadable."""
    prov = {"file": provenance} if isinstance(provenance, str) else dict(provenance)
    if "sha256" not in prov:  # the stage passes the raw file's hash: not computed twice
        prov["sha256"] = hashlib.sha256(data).hexdigest()
    name = name or str(prov.get("file"))
    articles, wrapper = find_articles(parse_bytes_safe(data, name), name)
    options = options or JatsOptions()
    items: list[Item] = []
    for index, article in enumerate(articles):
        record_prov = {**prov, "record": index} if len(articles) > 1 else prov
        try:
            items.append(render_article(article, record_prov, options, wrapper))
        except Exception as exc:  # one bad article must not stop an efetch batch (error ledger)
            items.append(ArticleError(record=_record_name(article, index), error=f"{type(exc).__name__}: {exc}"))
    return items


def find_articles(root: etree._Element, name: str = "<input>") -> tuple[list[etree._Element], str]:
    """The `<article>` elements of a document and the wrapper's name (nxml, efetch, oai)."""
    tag = root.tag if isinstance(root.tag, str) else ""
    if tag == "article":
        return [root], "nxml"
    if tag == "pmc-articleset":
        return root.findall("article"), "efetch"
    if tag == f"{OAI}OAI-PMH":
        error = root.find(f"{OAI}error")
        if error is not None:
            # A stored answer holding OAI-PMH's error: an input with no article (error ledger).
            raise InputError(f"{name}: OAI-PMH error {error.get('code')}: {' '.join((error.text or '').split())}")
        found = [el for el in root.iter("{*}article") if el.tag.startswith(_JATS_NS) or el.tag == "article"]
        for article in found:
            strip_jats_namespace(article)
        return found, "oai"
    if tag.startswith(_JATS_NS) and tag.endswith("}article"):
        strip_jats_namespace(root)
        return [root], "oai"
    raise InputError(f"{name}: not a JATS document (root <{tag or root.tag}>)")


def strip_jats_namespace(article: etree._Element) -> None:
    """Rename `{JATS namespace}tag` to `tag` in place; MathML, xlink, ali keep their namespaces."""
    for element in article.iter():
        tag = element.tag
        if isinstance(tag, str) and tag.startswith(_JATS_NS):
            element.tag = tag.rsplit("}", 1)[1]


def _record_name(article: etree._Element, index: int) -> str:
    ids = _article_ids(article)
    return ids.get("pmcid") or ids.get("doi") or f"#{index}"


# --------------------------------------------------------------------------- one article


def render_article(article: etree._Element, provenance: Mapping[str, Any], options: JatsOptions, wrapper: str = "nxml") -> Article:
    # Identifiers as written, before formatting tags are stripped (as `_record_name` reads them).
    ids = _article_ids(article, [c for f in article if f.tag == "front" for m in f if m.tag == "article-meta"
                                 for c in m if c.tag == "article-id"])
    _strip_formatting(article)
    front = _Front(article)
    renderer = _Renderer(article, options)
    title = _title(front, renderer)
    article_type = (article.get("article-type") or "").strip().lower() or None
    license_code, license_raw = licenses.article_license(article)
    abstracts = renderer.abstracts(front.meta_children("abstract"))
    body = _child(article, "body")
    body_blocks = renderer.body(body) if body is not None else []
    back_blocks = renderer.back(_child(article, "back"))
    sub_blocks = renderer.sub_articles() if options.sub_articles else []
    floats = renderer.floats(_child(article, "floats-group"))
    has_body = bool(body_blocks)

    blocks = abstracts + body_blocks + floats + back_blocks + sub_blocks
    text = "\n\n".join([title] + blocks) if title else "\n\n".join(blocks)
    meta = {
        "journal": front.journal(),
        "nlm_ta": _clean(front.nlm_ta()) or None,
        "article_type": article_type,
        "subjects": [s for s in (_plain(el) for el in front.subjects()) if s],
        "keywords": [k for k in (_plain(el) for el in front.keywords()) if k],
        "language": article.get("{http://www.w3.org/XML/1998/namespace}lang"),
        "license_raw": (license_raw or "")[:500] or None,
        "has_body": has_body,
        "abstract_types": sorted({(a.get("abstract-type") or "main") for a in front.meta_children("abstract")}),
        "wrapper": wrapper,
        "formulas_image_only": renderer.image_only_formulas,
        "render": _render_options(options),
    }
    doc = make_document(
        id=_doc_id(ids, provenance),
        source=SOURCE,
        subset=SUBSET,
        title=title,
        text=text,
        url=URL.format(ids["pmcid"]) if ids.get("pmcid") else (f"https://doi.org/{ids['doi']}" if ids.get("doi") else ""),
        pmid=ids.get("pmid"),
        pmcid=ids.get("pmcid"),
        doi=ids.get("doi"),
        license=license_code,
        date=_date(front.meta_children("pub-date")),
        meta=dump_meta(meta),
        provenance=dump_meta(dict(provenance)),
    )
    reason = _not_article_reason(front, article_type)
    if reason:
        return Article(doc, f"not_article:{reason}", f"article-type {article_type}")
    if not has_body and not abstracts:
        return Article(doc, "no_text", "no abstract and no body text")
    if not has_body and not options.abstract_only:
        return Article(doc, "no_body", "abstract only")
    return Article(doc)


def _strip_formatting(article: etree._Element) -> None:
    """`etree.strip_tags(article, *_FORMATTING)`, leaving out the main reference list.

    Nothing of the reference list is walked as running text: it is only ever read through
    `itertext()` and descendant searches (MEDITRON citations), which see the same words and
    elements with or without the formatting tags. It is a large share of an article's elements.
    """
    parts = []
    for child in article.iterchildren(etree.Element):
        if child.tag == "back":
            parts.extend(part for part in child.iterchildren(etree.Element) if part.tag != "ref-list")
        else:
            parts.append(child)
    if any(part.tag in _FORMATTING_TAGS for part in parts):  # strip_tags keeps the element it is given
        etree.strip_tags(article, *_FORMATTING)
        return
    for part in parts:
        etree.strip_tags(part, *_FORMATTING)


@lru_cache(maxsize=64)
def _render_options(options: JatsOptions) -> dict:
    """`options.to_dict()`, once per options value (it goes into every document's meta, read-only)."""
    return options.to_dict()


def _not_article_reason(front: "_Front", article_type: str | None) -> str | None:
    if article_type in _NOT_ARTICLE:
        return _NOT_ARTICLE[article_type]
    if front.meta is None:
        return None
    for subject in front.subjects("heading"):
        text = _plain(subject)
        if _NOT_ARTICLE_SUBJECT.match(text):
            return _NOT_ARTICLE.get(text.lower().split()[0], text.lower().replace(" ", "_"))
    # A notice typed "other" or "article-commentary" still says what it is through its link.
    if article_type in (None, "other", "article-commentary", "addendum"):
        for related in front.meta_children("related-article"):
            kind = (related.get("related-article-type") or "").lower()
            if kind in _NOT_ARTICLE:
                return _NOT_ARTICLE[kind]
    return None


def _doc_id(ids: dict, provenance: Mapping[str, Any]) -> str:
    """`pmc:PMCnnn`; articles outside PMC (a publisher's own JATS) fall back to DOI, PMID, bytes."""
    if ids.get("pmcid"):
        return f"pmc:{ids['pmcid']}"
    if ids.get("doi"):
        return f"pmc:doi:{ids['doi']}"
    if ids.get("pmid"):
        return f"pmc:pmid:{ids['pmid']}"
    return f"pmc:sha256:{str(provenance.get('sha256', ''))[:32]}#{provenance.get('record', 0)}"


# --------------------------------------------------------------------------- metadata


class _Front:
    """The article's front matter, read in one pass over `<article-meta>`'s children.

    Each lookup returns what the ElementPath expression in its docstring returns (plain child
    steps, document order), without ElementPath's per-call parsing and generator layers.
    """

    __slots__ = ("article", "metas", "meta", "_children")

    def __init__(self, article: etree._Element):
        self.article = article
        self.metas = [m for f in article if f.tag == "front" for m in f if m.tag == "article-meta"]
        self.meta = self.metas[0] if self.metas else None  # article.find("front/article-meta")
        children: dict[str, list] = {}
        if self.meta is not None:
            for child in self.meta:
                tag = child.tag
                if tag in children:
                    children[tag].append(child)
                else:
                    children[tag] = [child]
        self._children = children

    def meta_children(self, tag: str) -> list:
        """meta.iterfind(tag)"""
        return self._children.get(tag, ())

    def _all_meta_children(self, tag: str) -> list:
        """article.iterfind(f"front/article-meta/{tag}")"""
        if len(self.metas) == 1:
            return self._children.get(tag, ())
        return [c for m in self.metas for c in m if c.tag == tag]

    def title(self, tag: str) -> etree._Element | None:
        """meta.find(f"title-group/{tag}")"""
        for group in self._children.get("title-group", ()):
            found = _child(group, tag)
            if found is not None:
                return found
        return None

    def subjects(self, group_type: str | None = None) -> list:
        """meta.iterfind("article-categories/subj-group/subject"), or with
        `[@subj-group-type='{group_type}']` on subj-group"""
        return [subject for categories in self._children.get("article-categories", ()) for group in categories
                if group.tag == "subj-group" and (group_type is None or group.get("subj-group-type") == group_type)
                for subject in group if subject.tag == "subject"]

    def keywords(self) -> list:
        """article.iterfind("front/article-meta/kwd-group/kwd")"""
        return [kwd for group in self._all_meta_children("kwd-group") for kwd in group if kwd.tag == "kwd"]

    def _journal_meta(self):
        return [j for f in self.article if f.tag == "front" for j in f if j.tag == "journal-meta"]

    def journal(self) -> str | None:
        """The first non-empty of findtext("front/journal-meta/journal-title-group/journal-title")
        and findtext("front/journal-meta/journal-title")."""
        metas = self._journal_meta()
        for found in ([t for j in metas for g in j if g.tag == "journal-title-group" for t in g if t.tag == "journal-title"][:1]
                      or [None]) + ([t for j in metas for t in j if t.tag == "journal-title"][:1] or [None]):
            text = _clean((found.text or "") if found is not None else None)
            if text:
                return text
        return None

    def nlm_ta(self) -> str | None:
        """article.findtext("front/journal-meta/journal-id[@journal-id-type='nlm-ta']")"""
        for journal_meta in self._journal_meta():
            for node in journal_meta:
                if node.tag == "journal-id" and node.get("journal-id-type") == "nlm-ta":
                    return node.text or ""
        return None


def _article_ids(article: etree._Element, nodes=None) -> dict:
    ids: dict[str, str] = {}
    for node in (article.iterfind("front/article-meta/article-id") if nodes is None else nodes):
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


def _title(front: _Front, renderer: "_Renderer") -> str:
    if front.meta is None:
        return ""
    title = renderer.inline_text(front.title("article-title"))
    subtitle = renderer.inline_text(front.title("subtitle"))
    if subtitle:
        title = f"{title.rstrip(':')}: {subtitle}" if title else subtitle
    return title


def _date(pub_dates) -> str | None:
    """ISO date: electronic publication first, then print, collection, PMC release, any other."""
    ranked: list[tuple[int, str]] = []
    for node in pub_dates:
        kind = (node.get("pub-type") or node.get("date-type") or "").lower()
        fmt = (node.get("publication-format") or "").lower()
        rank = {"epub": 0, "ppub": 1, "epub-ppub": 1, "collection": 2, "pmc-release": 3}.get(kind, 4)
        if kind == "pub":
            rank = 0 if fmt == "electronic" else 1
        value = _iso(node)
        if value:
            ranked.append((rank, value))
    return min(ranked)[1] if ranked else None


def _iso(node: etree._Element) -> str | None:
    year = _child_text(node, "year").strip()
    if not (len(year) == 4 and year.isdigit()):
        return None
    month_text = _child_text(node, "month").strip()
    month = int(month_text) if month_text.isdigit() else _MONTHS.get(month_text[:3].lower())
    if not month or not 1 <= month <= 12:
        return year
    day = _child_text(node, "day").strip()
    if day.isdigit():
        try:
            return date(int(year), month, int(day)).isoformat()
        except ValueError:
            pass
    return f"{year}-{month:02d}"


# --------------------------------------------------------------------------- text helpers


def _plain(node: etree._Element | None) -> str:
    return _clean(_all_text(node)) if node is not None else ""


def _all_text(node: etree._Element) -> str:
    """`"".join(node.itertext())`, without an iterator for the usual childless element."""
    return "".join(node.itertext()) if len(node) else (node.text or "")


def _child(parent: etree._Element, tag: str) -> etree._Element | None:
    """`parent.find(tag)` for a plain child tag, without ElementPath (a few times faster)."""
    for child in parent:
        if child.tag == tag:
            return child
    return None


def _child_text(parent: etree._Element, tag: str) -> str:
    """`parent.findtext(tag) or ""` for a plain child tag."""
    child = _child(parent, tag)
    return (child.text or "") if child is not None else ""


def _is_el(node) -> bool:
    return isinstance(node.tag, str)


def flatten_mathml(math: etree._Element) -> str:
    """Readable text of a MathML tree: its tokens in order, separated by spaces (annotations left out)."""
    if next(math.iter(*_ANNOTATIONS), None) is not None:
        math = etree.fromstring(etree.tostring(math))  # a copy, so the article keeps its annotation
        etree.strip_elements(math, *_ANNOTATIONS, with_tail=False)
    return _mathml_words(math)


def _mathml_words(math: etree._Element) -> str:
    """`flatten_mathml` of a tree known to hold no annotation."""
    # Every token's words, single-spaced: whitespace-only tokens add none.
    return " ".join(" ".join(math.itertext()).split())


def tex_body(tex: str | None) -> str:
    """The math of a `<tex-math>`: the document preamble and $$ delimiters removed."""
    if not tex:
        return ""
    match = _TEX_DOC.search(tex)
    body = match.group(1) if match else tex
    body = body.strip()
    for _ in range(2):
        body = _TEX_DELIMS.sub("", body)
    return " ".join(body.split())


def _finish_text(raw: str) -> str:
    """`_SPACE_BEFORE_PUNCT.sub("", _clean(raw))`, in fewer passes over the text.

    Same steps as `clean_text` (entities unescaped once, whitespace collapsed as by
    `" ".join(raw.split())`), with two shortcuts: a newline (the usual line break of the XML
    source) is a space before collapsing; and when the only whitespace is the ASCII space,
    collapsing runs of spaces and dropping the space before punctuation is one substitution
    (`_SPARE_SPACE`), the ends stripped after it.
    """
    if not raw:
        return ""
    if "&" in raw:
        raw = _ENTITY.sub(lambda m: html.unescape(m.group(0)), raw)
    if "\n" in raw:
        raw = raw.replace("\n", " ")
    if not (_ascii_spaces_only(raw) if raw.isascii() else raw.isprintable()):
        return _SPACE_BEFORE_PUNCT.sub("", " ".join(raw.split()))
    raw = _SPARE_SPACE.sub("", raw)
    return raw.strip(" ") if raw[:1] == " " or raw[-1:] == " " else raw


def _ascii_spaces_only(raw: str) -> bool:
    """Whether ASCII text without newlines has no whitespace but the space (what `isprintable()`
    tells of any text, but it looks every character up in the Unicode tables: eight byte
    searches are several times faster)."""
    return not ("\t" in raw or "\r" in raw or "\x0b" in raw or "\x0c" in raw
                or "\x1c" in raw or "\x1d" in raw or "\x1e" in raw or "\x1f" in raw)


def _has_letter(text: str) -> bool:
    """Whether a citation's text has a letter ("Smith et al.", not "12" or "3–5")."""
    return not text.isdigit() and any(map(str.isalpha, text))  # (digits are no letters)


_MARKERS = [f"{_CIT}{i}{_CIT_END}" for i in range(512)]


def _marker(index: int) -> str:
    """The placeholder of citation `index` in running text (formatted once for the first 512)."""
    return _MARKERS[index] if index < 512 else f"{_CIT}{index}{_CIT_END}"


def _drop_citation_groups(raw: str) -> str:
    """`_CIT_GROUP.sub("", raw)`, with the regex tried only where a group can start.

    A group opens with a bracket followed by nothing but spaces and a "see"-like word before its
    first marker: no bracket and no marker lie between. So a group holding the marker at `t` can
    only start at the last bracket between the previous marker and `t`; trying there, past each
    group found, gives the same groups as the scan over the whole text (paragraphs are long and
    most of their text is not citations). Markers with no bracket since the previous one (runs
    of bare numbers) are skipped: the next candidate is the first marker after the next bracket.
    """
    find, rfind, match = raw.find, raw.rfind, _CIT_GROUP.match
    kept: list[str] = []
    keep = lo = 0
    square, paren = find("["), find("(")
    while True:
        if 0 <= square < lo:
            square = find("[", lo)
        if 0 <= paren < lo:
            paren = find("(", lo)
        bracket = paren if square < 0 or 0 <= paren < square else square
        if bracket < 0:
            break
        at = find(_CIT, bracket)
        if at < 0:
            break
        start = max(rfind("[", bracket, at), rfind("(", bracket, at))
        found = match(raw, start)
        if found is None:
            lo = at + 1
        else:
            kept.append(raw[keep:start])
            keep = lo = found.end()
    if not kept:
        return raw
    kept.append(raw[keep:])
    return "".join(kept)


def _drop_empty_brackets(raw: str) -> str:
    """`_EMPTY_BRACKETS.sub("", raw)`, skipping the regex scan when no bracket can start a match:
    an empty pair's opening bracket is followed by a space, "," / ";" or the closing bracket."""
    for opening in "([":
        at = raw.find(opening)
        while at != -1:
            following = raw[at + 1:at + 2]
            if following and (following.isspace() or following in ",;)]"):
                return _EMPTY_BRACKETS.sub("", raw)
            at = raw.find(opening, at + 1)
    return raw


# --------------------------------------------------------------------------- the renderer


@dataclass
class _Float:
    kind: str  # "fig" | "table"
    label: str
    caption: str


class _Renderer:
    """Walks one article; holds the per-article lookups (references, floats) built on demand."""

    def __init__(self, article: etree._Element, options: JatsOptions):
        self.article = article
        self.o = options
        self._refs: dict[str, tuple[str, str]] | None = None
        self._floats: dict[str, _Float] | None = None
        # Citation markers point into this list; it only grows, so nested renderings (a caption
        # inside a paragraph) never invalidate the markers of the text around them.
        self._citations: list[tuple[str, str]] = []  # (rid, xref text)
        # Whether some citation's text has a letter, known for the first `_letters_checked`.
        self._lettered = False
        self._letters_checked = 0
        self._seen_captions: set[str] = set()
        self.image_only_formulas = 0

    # -- structure ---------------------------------------------------------------------------
    def abstracts(self, abstracts) -> list[str]:
        """The `<abstract>` children of article-meta to keep, rendered."""
        out: list[str] = []
        main_done = False
        for abstract in abstracts:
            kind = (abstract.get("abstract-type") or "").lower()
            is_main = kind in _MAIN_ABSTRACT_TYPES and not main_done
            if not is_main and kind not in self.o.abstract_types and "all" not in self.o.abstract_types:
                continue
            heading = self.inline_text(_child(abstract, "title")) or ("Abstract" if is_main else kind.replace("-", " ").capitalize())
            blocks = self.container(abstract, depth=2)
            if blocks:
                out.append(f"# {heading}")
                out.extend(blocks)
                main_done = main_done or is_main
        return out

    def body(self, body: etree._Element) -> list[str]:
        return self.container(body, depth=1)

    def back(self, back: etree._Element | None) -> list[str]:
        """Appendices always; acknowledgements, notes, glossaries and back sections when asked."""
        if back is None:
            return []
        out: list[str] = []
        for child in back:
            if not _is_el(child):
                continue
            tag = child.tag
            if tag == "app-group":
                out.extend(self.container(child, depth=1))
            elif tag == "app":
                out.extend(self.section(child, 1))
            elif not self.o.back_matter:
                continue
            elif tag in ("ack", "sec", "notes", "glossary", "bio"):
                out.extend(self.section(child, 1, default_title="Acknowledgements" if tag == "ack" else ""))
            elif tag == "fn-group":
                for fn in child.iterfind("fn"):
                    if (fn.get("fn-type") or "").lower() not in _METADATA_FN_TYPES:
                        out.extend(self.container(fn, depth=2))
        return out

    def floats(self, group: etree._Element | None) -> list[str]:
        return self.container(group, depth=1) if group is not None else []

    def sub_articles(self) -> list[str]:
        out: list[str] = []
        for sub in self.article.iterfind("sub-article"):
            title_el = sub.find("front-stub/title-group/article-title")
            if title_el is None:
                title_el = sub.find("front/article-meta/title-group/article-title")
            title = self.inline_text(title_el)
            body = _child(sub, "body")
            blocks = self.container(body, depth=2) if body is not None else []
            if blocks:
                out.append(f"# {title or (sub.get('article-type') or 'Sub-article').replace('-', ' ').capitalize()}")
                out.extend(blocks)
        return out

    def container(self, node: etree._Element, depth: int) -> list[str]:
        """Blocks of an element holding paragraphs, sections and floats."""
        out: list[str] = []
        for child in node.iterchildren(etree.Element):
            out.extend(self.block(child, depth))
        return out

    def block(self, el: etree._Element, depth: int) -> list[str]:
        tag = el.tag
        if tag == "p":
            text = self.paragraph(el)
            return [text] if text else []
        if tag in ("sec", "app", "ack"):
            return self.section(el, depth)
        if tag == "list":
            return [self.list_(el, 0)] if len(el) else []
        if tag in ("fig", "table-wrap", "chem-struct-wrap"):
            return self.float_(el)
        if tag in ("fig-group", "table-wrap-group", "disp-formula-group"):
            caption = self.float_(el) if _child(el, "caption") is not None else []
            return caption + self.container(el, depth)
        if tag == "disp-formula":
            formula = self.formula(el)
            return [formula] if formula else []
        if tag in ("boxed-text", "disp-quote", "statement", "question-wrap", "verse-group", "speech"):
            title = self.inline_text(el.find("caption/title")) or self.inline_text(_child(el, "title"))
            inner = self.container(el, depth + 1)
            return ([title] if title and inner else []) + inner
        if tag == "def-list":
            return self.def_list(el)
        if tag in ("preformat", "code"):
            text = "\n".join(line.rstrip() for line in "".join(el.itertext()).strip("\n").splitlines())
            return [text] if text.strip() else []
        if tag == "supplementary-material":
            return self.float_(el) if self.o.back_matter else []
        if tag in _SKIP or tag in ("title", "caption", "table", "alternatives", "array"):
            return []
        if tag in ("answer", "explanation", "glossary", "notes", "bio"):
            return self.container(el, depth)
        # Unknown wrappers (custom elements, <named-content> at block level): keep their words.
        text = self.inline_text(el)
        return [text] if text else []

    def section(self, sec: etree._Element, depth: int, default_title: str = "") -> list[str]:
        title = self.inline_text(_child(sec, "title")) or default_title
        if not self.o.back_matter and self._is_back_matter(sec, title):
            return []
        inner = self.container(sec, depth + 1)
        if not inner:
            return []
        if title:
            label = _plain(_child(sec, "label"))  # looked up only for a heading that shows it
            heading = f"{label} {title}" if label and not title.startswith(label) else title
            return [f"{'#' * min(depth, 3)} {heading}"] + inner
        return inner

    @staticmethod
    def _is_back_matter(sec: etree._Element, title: str) -> bool:
        kind = (sec.get("sec-type") or "").lower()
        return kind in _BACK_MATTER_SEC_TYPES or bool(title and _BACK_MATTER_TITLE.match(title)) or sec.tag == "ack"

    def list_(self, el: etree._Element, level: int) -> str:
        lines: list[str] = []
        indent = "  " * level
        for item in el.iterfind("list-item"):
            parts: list[str] = []
            nested: list[str] = []
            for child in item:
                if not _is_el(child):
                    continue
                if child.tag == "list":
                    nested.append(self.list_(child, level + 1))
                elif child.tag == "label":
                    continue
                else:
                    parts.extend(self.block(child, 2) if child.tag != "title" else [self.inline_text(child)])
            if not parts and not nested and item.text and item.text.strip():
                parts = [_clean(item.text)]
            text = " ".join(p for p in parts if p)
            if text:
                lines.append(f"{indent}- {text}")
            lines.extend(n for n in nested if n)
        return "\n".join(lines)

    def def_list(self, el: etree._Element) -> list[str]:
        lines = []
        for item in el.iterfind("def-item"):
            term = self.inline_text(_child(item, "term"))
            definition = " ".join(self.inline_text(d) for d in item.iterfind("def"))
            if term or definition:
                lines.append(f"- {term}: {definition}" if term and definition else f"- {term or definition}")
        return ["\n".join(lines)] if lines else []

    # -- floats --------------------------------------------------------------------------------
    def float_(self, el: etree._Element) -> list[str]:
        kind = "table" if el.tag in ("table-wrap", "table-wrap-group") else "fig"
        caption = self.caption_text(el)
        rows = self.table_rows(el) if kind == "table" and self.o.tables == "linearize" else []
        if self.o.captions == "drop" and not rows:
            return []
        key = caption.casefold()
        if caption and (key in self._seen_captions or "continued" in key[:40]):
            caption = ""  # MEDITRON: a repeated or "(continued)" caption is said once
        if caption:
            self._seen_captions.add(key)
        if self.o.captions == "drop":
            caption = ""
        content = "\n".join([c for c in [caption] if c] + rows)
        if not content:
            return []
        if self.o.captions == "tagged":
            return [f"[{kind}] {content} [/{kind}]"]
        return [content]

    def caption_text(self, el: etree._Element) -> str:
        label = _plain(_child(el, "label"))
        caption = _child(el, "caption")
        parts = []
        if caption is not None:
            for child in caption:
                if _is_el(child) and child.tag in ("title", "p"):
                    text = self.inline_text(child)
                    if text:
                        parts.append(text if text[-1] in ".!?:" or child.tag != "title" else text + ".")
        body = " ".join(parts)
        return f"{label}: {body}" if label and body else body

    def table_rows(self, el: etree._Element) -> list[str]:
        rows = []
        for row in el.iter("tr"):
            cells = [self.inline_text(cell) for cell in row if _is_el(cell) and cell.tag in ("td", "th")]
            if any(cells):
                rows.append(" | ".join(cells))
        for fn in el.iterfind("table-wrap-foot//p"):
            text = self.inline_text(fn)
            if text:
                rows.append(text)
        return rows

    # -- formulas ----------------------------------------------------------------------------------
    def formula_text(self, el: etree._Element) -> str:
        """TeX when the article has it, else flattened MathML, else the element's own words."""
        # One pass over the formula finds the first <tex-math>, the first <math> and whether any
        # annotation is there at all (rarely: then the annotation is looked up as before).
        tex = math = None
        annotated = False
        for node in el.iter("tex-math", _MATH, *_ANNOTATIONS):
            tag = node.tag
            if tag == "tex-math":
                if tex is None:
                    tex = node
            elif tag == _MATH:
                if math is None:
                    math = node
            else:
                annotated = True
        if tex is not None:
            text = tex_body(tex.text)
            if text:
                return text
        if math is None:
            return ""
        if not annotated:
            return _mathml_words(math)
        annotation = next((a for a in math.iter(_ANNOTATIONS[0]) if "tex" in (a.get("encoding") or "").lower()), None)
        if annotation is not None and tex_body(annotation.text):
            return tex_body(annotation.text)
        return flatten_mathml(math)

    def formula(self, el: etree._Element) -> str:
        """A display formula as the `formulas` option says; image-only ones are counted, not kept."""
        if self.o.formulas == "drop":
            return ""
        text = self.formula_text(el)
        if not text:
            if next(el.iter("graphic", "inline-graphic"), None) is not None:
                self.image_only_formulas += 1
            return ""
        return f"[formula] {text} [/formula]" if self.o.formulas == "tagged" else text

    # -- running text ------------------------------------------------------------------------------
    def paragraph(self, p: etree._Element) -> str:
        """A paragraph; floats, formulas and lists inside it become their own lines."""
        pieces: list[str] = []
        text = p.text
        buffer: list[str] = [text] if text else []
        citations = self._citations
        need_rid = self.o.citations == "meditron"  # only MEDITRON markers look references up
        for child in p:
            tag = child.tag
            if tag == "xref":  # most children of a paragraph: straight to xref, as inline() would
                if child.get("ref-type") == "bibr":  # xref()'s commonest case, inlined
                    buffer.append(_marker(len(citations)))
                    citations.append(((child.get("rid") or "") if need_rid else "",
                                      "".join(child.itertext()) if len(child) else (child.text or "")))
                else:
                    self.xref(child, buffer)
                tail = child.tail
                if tail:
                    buffer.append(tail)
            elif tag in _PARAGRAPH_BLOCKS:  # (only element tags are strings)
                if buffer:
                    text = self.finish("".join(buffer))
                    if text:
                        pieces.append(text)
                    buffer = []
                pieces.extend(self.block(child, 2))
                if child.tail:
                    buffer.append(child.tail)
            else:
                self.inline(child, buffer)
        if buffer:
            text = self.finish("".join(buffer))
            if text:
                pieces.append(text)
        return "\n".join(pieces) if len(pieces) != 1 else pieces[0]

    def inline_text(self, el: etree._Element | None) -> str:
        if el is None:
            return ""
        buffer = [el.text] if el.text else []
        for child in el:
            self.inline(child, buffer)
        return self.finish("".join(buffer))

    def inline(self, node, out: list[str]) -> None:
        """Append the running text of `node` and its tail."""
        tag = node.tag
        if not isinstance(tag, str):
            if tag is etree.Entity:  # a DTD-only entity (&nbsp;) that was not resolved
                out.append(html.unescape(node.text or ""))
        elif tag == "xref":
            self.xref(node, out)
        elif tag in ("inline-formula", "disp-formula"):
            # Inline math is part of the sentence: its text, without block markers.
            text = self.formula_text(node) if tag == "inline-formula" else self.formula(node)
            if text:
                out.append(f" {text} ")
        elif tag.startswith(MML):
            out.append(" " + flatten_mathml(node) + " ")
        elif tag == "tex-math":
            out.append(" " + tex_body(node.text) + " ")
        elif tag == "sup":
            inner: list[str] = [node.text] if node.text else []
            for child in node:
                self.inline(child, inner)
            text = "".join(inner)
            previous = out[-1][-1:] if out and out[-1] else ""
            if _NUMERIC_SUP.match(text) and (previous.isdigit() or previous == ")"):
                text = "^" + text.strip()
            out.append(text)
        elif tag == "break":
            out.append(" ")
        elif tag in _SKIP or tag in ("fig", "table-wrap", "supplementary-material", "table", "caption"):
            pass
        elif tag in _BLOCKS:  # a block where running text was expected: keep its words
            out.append(" " + " ".join(self.block(node, 3)) + " ")
        else:
            if node.text:
                out.append(node.text)
            for child in node:
                self.inline(child, out)
        if node.tail:
            out.append(node.tail)

    def xref(self, node: etree._Element, out: list[str]) -> None:
        kind = (node.get("ref-type") or "").lower()
        text = _all_text(node)
        if kind == "bibr" or kind == "bib":
            self._citations.append((node.get("rid") or "", text))
            out.append(_marker(len(self._citations) - 1))
        elif kind in ("fn", "aff", "corresp", "author-notes", "table-fn"):
            return
        elif kind in ("fig", "table") and self.o.figure_refs == "meditron":
            target = self.float_index().get((node.get("rid") or "").split(" ")[0])
            if target and target.caption:
                words = target.caption.split()
                clause = " ".join(words[:12]) + ("…" if len(words) > 12 else "")
                out.append(f" [fig_ref] {target.label + ': ' if target.label else ''}{clause} [/fig_ref] ")
            else:
                out.append(f" [fig_ref] {_clean(text)} [/fig_ref] ")
        else:
            out.append(text)

    def finish(self, raw: str) -> str:
        """Clean one run of text and settle its citation markers."""
        if _CIT in raw:
            raw = self._settle_citations(raw)
        # Removed markup (citations, inline math) leaves "word ," behind.
        return _finish_text(raw)

    def _settle_citations(self, raw: str) -> str:
        if self.o.citations == "meditron":
            # "[1, 2]" -> one [bib_ref] per reference, without the brackets and separators.
            raw = _CIT_GROUP.sub(lambda m: " " + "".join(f"{_CIT}{i}{_CIT_END}" for i in _CIT_ONE.findall(m.group(0))), raw)
            raw = _CIT_ONE.sub(lambda m: self._bib_ref(int(m.group(1))), raw)
        else:
            raw = _drop_citation_groups(raw)
            # What is left stands in the sentence: a narrative "Smith et al. (2001)" keeps its words,
            # a bare number ("…shown 12,13.") goes with its separators.
            if _CIT in raw:
                raw = _CIT_RUN.sub(self._narrative if self._any_lettered() else "", raw)
        return _drop_empty_brackets(raw)

    def _any_lettered(self) -> bool:
        """Whether a citation so far has a letter in its text. Without one (numbered references,
        most articles), `_narrative` drops every run: the runs then go without a call each."""
        if not self._lettered:
            citations = self._citations
            self._lettered = any(_has_letter(text) for _, text in citations[self._letters_checked:])
            self._letters_checked = len(citations)
        return self._lettered

    def _narrative(self, match: re.Match) -> str:
        """A run of markers standing in the sentence: the xrefs' words when every one has a
        letter ("Smith et al."), else nothing (bare numbers)."""
        run = match.group(0)
        if run.find(_CIT, 1) == -1:  # one marker, the usual run
            kept = [self._citations[int(run[1:-1])][1]]
        else:
            kept = [self._citations[int(i)][1] for i in _CIT_ONE.findall(run)]
        for text in kept:
            if not _has_letter(text):
                return ""
        return "; ".join(_clean(t) for t in kept)

    def _bib_ref(self, index: int) -> str:
        rids = self._citations[index][0].split()
        rendered = []
        for rid in rids:
            title, author = self.reference_index().get(rid, ("", ""))
            if not title and not author:
                continue  # MEDITRON drops unresolved references
            words = title.split()
            short = " ".join(words[:12]) + ("…" if len(words) > 12 else "")
            rendered.append(f" [bib_ref] {', '.join(x for x in (short, author) if x)} [/bib_ref] ")
        return "".join(rendered)

    # -- lookups -----------------------------------------------------------------------------------
    def reference_index(self) -> dict[str, tuple[str, str]]:
        if self._refs is None:
            self._refs = {}
            for ref in self.article.iter("ref"):
                rid = ref.get("id")
                if not rid:
                    continue
                title_el = next((el for el in ref.iter("article-title", "chapter-title", "source") if _is_el(el)), None)
                surname = next(ref.iter("surname"), None)
                author = _plain(surname) if surname is not None else _plain(next(ref.iter("collab"), None))
                self._refs[rid] = (_plain(title_el).rstrip("."), author)
        return self._refs

    def float_index(self) -> dict[str, _Float]:
        if self._floats is None:
            self._floats = {}
            for el in self.article.iter("fig", "table-wrap"):
                if el.get("id"):
                    title = el.find("caption/title")
                    caption = self.inline_text(title if title is not None else el.find("caption/p"))
                    first_clause = re.split(r"(?<=[.;:])\s", caption, maxsplit=1)[0] if caption else ""
                    self._floats[el.get("id")] = _Float("table" if el.tag == "table-wrap" else "fig",
                                                        _plain(_child(el, "label")), first_clause)
        return self._floats

