"""Running text: paragraphs and the inline content of titles, captions, cells and list items.

The words of a run are collected into a list of pieces (element text and tails in document order)
and finished once: citation markers settled (citations.py), brackets emptied by removals cleaned,
entities unescaped, whitespace collapsed. Blocks met inside a paragraph (a figure, a list, a
display formula) become lines of their own; inline math stays in the sentence, spaced from the
words around it.
"""
from __future__ import annotations

import html
import re

from lxml import etree

from sources.mathml import MML, mathml_text, spaced_in_sentence, tex_body
from sources.pmc.jats.citations import REMOVED, drop_removal_remnants
from sources.pmc.jats.formulas import formula_text
from sources.pmc.jats.renderer_parts import RendererParts
from sources.pmc.jats.sections import BLOCKS, SKIP
from sources.pmc.jats.text import all_text, finish_text

# Blocks that break a paragraph into lines of their own.
PARAGRAPH_BLOCKS = BLOCKS - {"title", "caption", "label"}
# Links to what is not running text (footnotes, affiliations): taken out.
_UNREAD_XREFS = ("fn", "aff", "corresp", "author-notes", "table-fn")
_NUMERIC_SUP = re.compile(r"^[\s0-9.+\-\u2212\u2013]+$")


class RunningText(RendererParts):
    """Renderer methods for text inside blocks (see renderer.py for the shared state)."""

    def paragraph(self, p: etree._Element) -> str:
        """A paragraph; floats, formulas and lists inside it become their own lines."""
        pieces: list[str] = []
        buffer = [p.text or ""]
        for child in p:
            if child.tag in PARAGRAPH_BLOCKS:
                pieces.append(self.finish("".join(buffer)))
                pieces.extend(self.block(child, 2))
                buffer = [child.tail or ""]
            else:
                self.inline(child, buffer)
        pieces.append(self.finish("".join(buffer)))
        return "\n".join(piece for piece in pieces if piece)

    def inline_text(self, el: etree._Element | None, citations: str | None = None) -> str:
        """The finished running text of an element (a title, caption part, table cell); citations
        as the options say, or as `citations` (drop | meditron) when given."""
        if el is None:
            return ""
        buffer = [el.text or ""]
        for child in el:
            self.inline(child, buffer)
        return self.finish("".join(buffer), citations)

    def inline(self, node, out: list[str]) -> None:
        """Append the running text of `node` and its tail."""
        tag = node.tag
        if not isinstance(tag, str):
            if tag is etree.Entity:  # a DTD-only entity (&nbsp;) that was not resolved
                out.append(html.unescape(node.text or ""))
        elif tag == "xref":
            self.xref(node, out)
        elif tag in ("inline-formula", "disp-formula"):
            # Part of the sentence: its text, without block markers; an image-only formula (or
            # one dropped by the options) is a removal, like a dropped citation.
            text = formula_text(node) if tag == "inline-formula" else self.formula(node)
            out.append(_spaced(text, out, node.tail) if text else REMOVED)
        elif tag.startswith(MML):
            out.append(_spaced(mathml_text(node), out, node.tail))
        elif tag == "tex-math":
            out.append(_spaced(tex_body(node.text), out, node.tail))
        elif tag == "sup":
            out.append(self.superscript(node, previous=_last_character(out)))
        elif tag == "break":
            out.append(" ")
        elif tag in SKIP or tag in ("fig", "table-wrap", "supplementary-material", "table", "caption"):
            pass
        elif tag in BLOCKS:  # a block where running text was expected: keep its words
            out.append(" " + " ".join(self.block(node, 3)) + " ")
        else:
            out.append(node.text or "")
            for child in node:
                self.inline(child, out)
        if node.tail:
            out.append(node.tail)

    def superscript(self, sup: etree._Element, previous: str) -> str:
        """A power after a number or a bracket reads "10^5"; other superscripts as written."""
        inner = [sup.text or ""]
        for child in sup:
            self.inline(child, inner)
        text = "".join(inner)
        if _NUMERIC_SUP.match(text) and (previous.isdigit() or previous == ")"):
            return "^" + text.strip()
        return text

    def xref(self, xref: etree._Element, out: list[str]) -> None:
        kind = (xref.get("ref-type") or "").lower()
        if kind in ("bibr", "bib"):
            out.append(self.citations.marker(xref))
        elif kind in _UNREAD_XREFS:
            out.append(REMOVED)
        elif kind in ("fig", "table") and self.o.figure_refs == "meditron":
            out.append(self.figure_ref(xref))
        else:
            out.append(all_text(xref))

    def finish(self, raw: str, citations: str | None = None) -> str:
        """Clean one run of text: citations settled, the brackets that removals emptied dropped,
        whitespace and entities normalised."""
        raw = self.citations.settle(raw, citations or self.o.citations)
        return finish_text(drop_removal_remnants(raw))


def _spaced(text: str, before: list[str], tail: str | None) -> str:
    """A formula's text inside the sentence, spaced from the words around it (removal marks not counted)."""
    return spaced_in_sentence(text, _last_character(before), tail or "")


def _last_character(pieces: list[str]) -> str:
    """The last character of the text so far, removal marks not counted."""
    for piece in reversed(pieces):
        piece = piece.rstrip(REMOVED)
        if piece:
            return piece[-1]
    return ""
