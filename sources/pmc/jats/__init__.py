"""JATS (PMC full text) -> training documents.

Accepts the wrappers PMC serves: a plain `.nxml` or PMC Cloud `<article>`, efetch's and PMC
Cloud's `<pmc-articleset>` (one or several articles) and an OAI-PMH GetRecord answer whose
`<article>` is in the default JATS namespace (wrappers.py).

A document's text is the title, the main abstract (`# Abstract`), then the body with section
headings by depth (`#`, `##`, `###`), paragraphs, lists (`- `) and boxed text. Renderings that a
corpus builder may want either way are `JatsOptions` (defaults follow MEDITRON where it was
right): citations, figure/table references, captions, table bodies, formulas, extra abstract
types, back-matter sections, sub-articles, abstract-only articles. Always removed: reference
lists, authors, affiliations, correspondence and metadata footnotes. Notices that are not
articles (corrections, retractions, errata, expressions of concern) and items with no text come
back with a drop reason, for the ledger.

Modules, one concern each:
- parse.py: `parse_bytes`, the entry point (safe XML parse, one item per article);
- wrappers.py: where the articles are (nxml, efetch, OAI-PMH, any depth);
- options.py: `JatsOptions`;
- document.py: one article -> a document or a ledger entry (metadata, identifiers, drop reasons);
- front.py: front matter (ids, journal, dates, subjects, keywords, not-an-article notices);
- renderer.py: the per-article walk and its state, its methods grouped in
  sections.py (abstracts, body, sections, lists), back_matter.py (back, sub-articles),
  floats.py (figures, tables, captions, figure references) and running_text.py (paragraphs,
  inline text, xrefs); renderer_parts.py: the Protocol naming the state and methods they share;
- citations.py: citation markers and their settling (dropped or MEDITRON-tagged);
- formulas.py: formula elements to text (the MathML reading is sources/mathml.py, shared with MEDLINE);
- text.py: element text and the final cleaning of a run of text.
"""
from sources.pmc.jats.document import SOURCE, SUBSET, URL, Article, render_article
from sources.pmc.jats.options import JatsOptions
from sources.pmc.jats.parse import ArticleError, Item, parse_bytes
from sources.pmc.jats.wrappers import find_articles, strip_jats_namespace

__all__ = [
    "SOURCE", "SUBSET", "URL", "Article", "ArticleError", "Item", "JatsOptions", "find_articles",
    "parse_bytes", "render_article", "strip_jats_namespace",
]
