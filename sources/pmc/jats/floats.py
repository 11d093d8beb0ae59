"""Figures, tables and their captions; figure and table references in MEDITRON style.

A caption reads "Label: title. paragraphs", tagged `[fig] … [/fig]` / `[table] … [/table]`, plain
or dropped (`captions`); a repeated or "(continued)" caption is said once, as MEDITRON did. A
supplementary file's caption is a `[table]` when its label says it is a table ("Table S1", "S2
Table"), else a `[fig]`; a caption paragraph that only names the file format ("(PDF)", "(TIFF)") is
not text. With
`tables=linearize` a table's rows follow as "cell | cell" lines, then its footnotes. Captions,
cells and table footnotes are running text like any other: citations in them are dropped or
tagged as in the body; the caption clause a MEDITRON `[fig_ref]` quotes is read without them.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

from lxml import etree

from curation.markers import table_row, tag
from sources.pmc.jats.renderer_parts import RendererParts
from sources.pmc.jats.text import is_element, plain_text
from sources.xml_text import clean_text


_TABLE_LABEL = re.compile(r"\btables?\b", re.IGNORECASE)
_FILE_FORMAT = re.compile(r"^\((?:\d+(?:\.\d+)?\s*[KMG]B\s+)?[A-Z0-9]{2,5}\)\.?$")


@dataclass(frozen=True)
class FloatTarget:
    """What a `[fig_ref]` says of the figure or table it points to."""

    kind: str  # "fig" | "table"
    label: str
    caption: str  # the caption's first clause, citations left out


class Floats(RendererParts):
    """Renderer methods for figures and tables (see renderer.py for the shared state)."""

    def float_(self, el: etree._Element) -> list[str]:
        kind = "table" if el.tag in ("table-wrap", "table-wrap-group") or (
            el.tag == "supplementary-material" and _TABLE_LABEL.search(plain_text(el.find("label")))) else "fig"
        caption = self.caption_text(el)
        rows = self.table_rows(el) if kind == "table" and self.o.tables == "linearize" else []
        if self.o.captions == "drop" and not rows:
            return []
        key = caption.casefold()
        if caption and (key in self.seen_captions or "continued" in key[:40]):
            caption = ""  # MEDITRON: a repeated or "(continued)" caption is said once
        if caption:
            self.seen_captions.add(key)
        if self.o.captions == "drop":
            caption = ""
        content = "\n".join(([caption] if caption else []) + rows)
        if not content:
            return []
        if self.o.captions == "tagged":
            return [tag(kind, content)]
        return [content]

    def caption_text(self, el: etree._Element) -> str:
        """"Label: title. paragraphs" of a figure, table or supplementary file."""
        label = plain_text(el.find("label"))
        caption = el.find("caption")
        parts = []
        if caption is not None:
            for child in caption:
                if is_element(child) and child.tag in ("title", "p"):
                    text = self.inline_text(child)
                    if text and not _FILE_FORMAT.match(text):
                        parts.append(text if text[-1] in ".!?:" or child.tag != "title" else text + ".")
        body = " ".join(parts)
        return f"{label}: {body}" if label and body else body

    def table_rows(self, el: etree._Element) -> list[str]:
        rows = []
        for row in el.iter("tr"):
            cells = [self.inline_text(cell) for cell in row if is_element(cell) and cell.tag in ("td", "th")]
            if any(cells):
                rows.append(table_row(cells))
        for fn in el.iterfind("table-wrap-foot//p"):
            text = self.inline_text(fn)
            if text:
                rows.append(text)
        return rows

    def figure_ref(self, xref: etree._Element) -> str:
        """`[fig_ref] Figure 2: first clause of its caption (12 words)… [/fig_ref]`."""
        target = self.float_targets().get((xref.get("rid") or "").split(" ")[0])
        if target is None or not target.caption:
            return f" {tag('fig_ref', clean_text(''.join(xref.itertext())))} "
        words = target.caption.split()
        clause = " ".join(words[:12]) + ("…" if len(words) > 12 else "")
        return f" {tag('fig_ref', (target.label + ': ' if target.label else '') + clause)} "

    def float_targets(self) -> dict[str, FloatTarget]:
        """Figure and table id -> what a reference to it says (built on the first reference)."""
        if self._float_targets is None:
            self._float_targets = {}
            for el in self.article.iter("fig", "table-wrap"):
                if not el.get("id"):
                    continue
                title = el.find("caption/title")
                # A [bib_ref] inside a [fig_ref] would nest tags: the summary never cites.
                caption = self.inline_text(title if title is not None else el.find("caption/p"), citations="drop")
                first_clause = re.split(r"(?<=[.;:])\s", caption, maxsplit=1)[0] if caption else ""
                self._float_targets[el.get("id")] = FloatTarget(
                    "table" if el.tag == "table-wrap" else "fig", plain_text(el.find("label")), first_clause)
        return self._float_targets
