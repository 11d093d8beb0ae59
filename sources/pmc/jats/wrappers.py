"""Where the `<article>`s are: the wrappers PMC serves them in.

- a plain `.nxml` (OA package): the `<article>` is the root;
- efetch (db=pmc): `<pmc-articleset>` holding one or more articles;
- OAI-PMH GetRecord: `<OAI-PMH>…<metadata><article xmlns="https://jats.nlm.nih.gov/ns/…">`, the
  JATS tags in a default namespace (stripped here; MathML, xlink and ali keep theirs).

An OAI-PMH answer that holds an `<error>` instead is an InputError naming the OAI code: a stored
answer with no article, an error-ledger entry.
"""
from __future__ import annotations

from lxml import etree

from sources.errors import InputError

OAI = "{http://www.openarchives.org/OAI/2.0/}"
JATS_NAMESPACES = ("{https://jats.nlm.nih.gov/ns/", "{http://jats.nlm.nih.gov/ns/")


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
            raise InputError(f"{name}: OAI-PMH error {error.get('code')}: {' '.join((error.text or '').split())}")
        found = [el for el in root.iter("{*}article") if el.tag.startswith(JATS_NAMESPACES) or el.tag == "article"]
        for article in found:
            strip_jats_namespace(article)
        return found, "oai"
    if tag.startswith(JATS_NAMESPACES) and tag.endswith("}article"):
        strip_jats_namespace(root)
        return [root], "oai"
    raise InputError(f"{name}: not a JATS document (root <{tag or root.tag}>)")


def strip_jats_namespace(article: etree._Element) -> None:
    """Rename `{JATS namespace}tag` to `tag` in place; MathML, xlink, ali keep their namespaces."""
    for element in article.iter(etree.Element):
        if element.tag.startswith(JATS_NAMESPACES):
            element.tag = element.tag.rsplit("}", 1)[1]
