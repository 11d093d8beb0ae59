"""Where the `<article>`s are: the wrappers PMC serves them in.

- a plain `.nxml` (OA package) or a PMC Cloud `.xml`: the `<article>` is the root;
- efetch (db=pmc) and some PMC Cloud objects: `<pmc-articleset>` holding one or more articles;
- OAI-PMH GetRecord: `<OAI-PMH>…<metadata><article xmlns="https://jats.nlm.nih.gov/ns/…">`, the
  JATS tags in a default namespace (stripped here; MathML, xlink and ali keep theirs).

An article is found at any depth below any root (an article inside another is the outer one's
business); a document with none is not JATS, except an efetch or OAI-PMH answer, which may hold
no article. An OAI-PMH answer that holds an `<error>` instead is an InputError naming the OAI
code: a stored answer with no article, an error-ledger entry.
"""
from __future__ import annotations

from lxml import etree

from sources.errors import InputError

OAI = "{http://www.openarchives.org/OAI/2.0/}"
JATS_NAMESPACES = ("{https://jats.nlm.nih.gov/ns/", "{http://jats.nlm.nih.gov/ns/")
WRAPPER_NAMES = {"article": "nxml", "pmc-articleset": "efetch", f"{OAI}OAI-PMH": "oai"}


def find_articles(root: etree._Element, name: str = "<input>") -> tuple[list[etree._Element], str]:
    """The `<article>` elements of a document and the wrapper's name (nxml, efetch, oai, or the root's name)."""
    tag = root.tag if isinstance(root.tag, str) else ""
    if tag == f"{OAI}OAI-PMH":
        error = root.find(f"{OAI}error")
        if error is not None:
            raise InputError(f"{name}: OAI-PMH error {error.get('code')}: {' '.join((error.text or '').split())}")
    if _is_article(root):
        articles = [root]
    else:
        articles = [el for el in root.iter("{*}article") if _is_article(el) and not _inside_article(el)]
    if not articles and tag not in WRAPPER_NAMES:  # (an efetch or OAI-PMH answer may hold no article)
        raise InputError(f"{name}: not a JATS document (root <{tag or root.tag}>)")
    namespaced = [article for article in articles if article.tag != "article"]
    for article in namespaced:
        strip_jats_namespace(article)
    if tag in WRAPPER_NAMES:
        return articles, WRAPPER_NAMES[tag]
    return articles, "oai" if namespaced else etree.QName(root).localname


def strip_jats_namespace(article: etree._Element) -> None:
    """Rename `{JATS namespace}tag` to `tag` in place; MathML, xlink, ali keep their namespaces."""
    for element in article.iter(etree.Element):
        if element.tag.startswith(JATS_NAMESPACES):
            element.tag = element.tag.rsplit("}", 1)[1]


def _is_article(element: etree._Element) -> bool:
    tag = element.tag
    return tag == "article" or (tag.startswith(JATS_NAMESPACES) and tag.endswith("}article"))


def _inside_article(element: etree._Element) -> bool:
    return any(_is_article(ancestor) for ancestor in element.iterancestors())
