"""Text helpers: the words of an element, and the last cleaning of a run of running text."""
from __future__ import annotations

import re

from lxml import etree

from sources.mathml import MATH
from sources.pmc.jats.formulas import formula_text
from sources.xml_text import clean_text

# Formatting elements carry no meaning for training text: merged into their parents before the
# walk (in C, one pass), so the renderer only meets elements that need a decision.
FORMATTING = (
    "italic", "bold", "sc", "underline", "overline", "monospace", "roman", "sans-serif", "strike", "sub",
    "named-content", "styled-content", "ext-link", "uri", "abbrev", "email", "underline-start", "underline-end",
    "inline-supplementary-material", "glyph-data", "price", "x",
)
# Applied to cleaned text (single spaces only): removed markup (citations, inline math) leaves
# "word ," behind, so the space before closing punctuation goes.
SPACE_BEFORE_PUNCT = re.compile(r" (?=[.,;:!?)\]])")


def strip_formatting(article: etree._Element) -> None:
    etree.strip_tags(article, *FORMATTING)


def finish_text(raw: str) -> str:
    """Entities escaped twice unescaped, whitespace collapsed, no space before closing punctuation."""
    return SPACE_BEFORE_PUNCT.sub("", clean_text(raw))


def all_text(node: etree._Element) -> str:
    return "".join(node.itertext())


def plain_text(node: etree._Element | None) -> str:
    """The words of a label, keyword, subject or cited title, single-spaced; a formula inside reads
    as in running text (its TeX or MathML tokens, spaced from the words around it), not as the
    characters of every MathML token and TeX alternative run together."""
    return clean_text("".join(_words_with_formulas(node))) if node is not None else ""


def _words_with_formulas(node: etree._Element) -> list[str]:
    """`node.itertext()`, but formulas as their text."""
    parts = [node.text or ""]
    for part in node:
        if part.tag in ("inline-formula", "disp-formula", "tex-math", MATH):
            parts.append(f" {formula_text(part)} ")
        elif part.tag is etree.Entity:
            parts.append(part.text)
        elif is_element(part):
            parts.extend(_words_with_formulas(part))
        parts.append(part.tail or "")
    return parts


def is_element(node) -> bool:
    """An element, not a comment, processing instruction or unresolved entity."""
    return isinstance(node.tag, str)
