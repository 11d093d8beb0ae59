"""Text cleaning before filtering: repair, normalise, and remove what is not content.

Each step is one small function over a string; `Cleaner` runs the enabled ones in order. What
cleaning must never touch is medical notation: `<5`, `≥`, `p<0.01`, `[95% CI 1.2-3.4]`, `10⁹/L`,
`m²`, `µg`, gene and protein names (`BRCA1`, `IL-6`, `HLA-B*57:01`), and chemical locants in
brackets (`[1,2,4]triazolo`). Hence:
- NFC, not NFKC: NFKC would turn `m²` into `m2` and `µ` into `μ`;
- ftfy repairs mojibake (`Ã©` -> `é`, `â‰¥` -> `≥`) but leaves quotes curled and HTML
  entities alone unless the text has no `<` (ftfy's own 'auto' rule: `&lt;5` is repaired, `<5` is never
  read as markup);
- only bracketed lists of reference numbers that follow a word are citation markers
  (curation/citations.py): not when a letter follows the bracket (a chemical locant), not a
  result's interval after a number ("16 [6-22]", "39% [15-56]"), not "[0, 1]", "F[1,12]" or a
  list's "[1]" label;
- only whole boilerplate statements go (copyright lines, "All rights reserved"), never a sentence
  that merely starts with "Copyright".
"""
from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

from curation.citations import remove_citation_markers
from curation.filters.structure import list_indent
from curation.markers import clean_outside_code

_ZERO_WIDTH = dict.fromkeys(map(ord, "\u200b\u200c\u200d\u2060\ufeff\u00ad"), None)
_H_SPACE = re.compile(r"[^\S\n]+")  # whitespace other than line breaks
_MANY_BREAKS = re.compile(r"\n{3,}")
# A URL with the brackets around it, and the full stop just before it (given back unless another
# follows the URL: "provided by SIS, Inc. (http://…)." keeps one).
_URL = re.compile(r"(\.?)\s*\(?(?:https?://|ftp://|www\.)[^\s<>\"]+[^\s<>\".,;:!?)\]]\)?", re.IGNORECASE)
_BOILERPLATE_LINE = re.compile(
    r"^\s*(?:"
    r"(?:copyright\s*)?©.{0,200}"
    r"|(?:copyright\s*)?\(c\)\s*\d{4}.{0,200}"
    r"|copyright\s+(?:©\s*|\(c\)\s*)?\d{4}.{0,200}"
    r"|all rights reserved\.?"
    r"|this article is protected by copyright\..{0,100}"
    r"|\(?psycinfo database record.{0,120}"
    r")$",
    re.IGNORECASE,
)
# A copyright statement at the end of an abstract's last line: "... results. Copyright 2005 Wiley."
_TRAILING_COPYRIGHT = re.compile(
    r"(?<=[.!?])\s+(?:copyright\s*(?:©|\(c\))?\s*\d{4}|©\s*\d{4}|\(c\)\s*\d{4})[^\n]{0,200}$",
    re.IGNORECASE,
)


def fix_mojibake(text: str) -> str:
    import ftfy

    return ftfy.fix_text(text, uncurl_quotes=False, fix_character_width=False, normalization="NFC")


def normalize_unicode(text: str) -> str:
    return unicodedata.normalize("NFC", text).translate(_ZERO_WIDTH)


def normalize_whitespace(text: str) -> str:
    """Runs of spaces and tabs become one space, lines lose trailing spaces, at most one blank line;
    a nested list item keeps its indentation (curation.filters.structure)."""
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    lines = [list_indent(line) + _H_SPACE.sub(" ", line).strip() for line in text.split("\n")]
    return _MANY_BREAKS.sub("\n\n", "\n".join(lines)).strip()


def remove_urls(text: str) -> str:
    def drop(match: re.Match) -> str:
        stop = match.group(1)
        return "" if stop and match.string.startswith(".", match.end()) else stop

    return _URL.sub(drop, text)


def remove_boilerplate(text: str) -> str:
    lines = [line for line in text.split("\n") if not _BOILERPLATE_LINE.match(line)]
    return _TRAILING_COPYRIGHT.sub("", "\n".join(lines))


@dataclass(frozen=True)
class CleanConfig:
    fix_mojibake: bool = True
    remove_urls: bool = True
    remove_citations: bool = True
    remove_boilerplate: bool = True


class Cleaner:
    """Runs the enabled cleaning steps in a fixed order; whitespace last, after removals."""

    name = "clean"

    def __init__(self, config: CleanConfig = CleanConfig()):
        self.steps = [normalize_unicode]
        if config.fix_mojibake:
            self.steps.insert(0, fix_mojibake)
        if config.remove_urls:
            self.steps.append(remove_urls)
        if config.remove_citations:
            self.steps.append(remove_citation_markers)
        if config.remove_boilerplate:
            self.steps.append(remove_boilerplate)
        self.steps.append(normalize_whitespace)

    def __call__(self, text: str) -> str:
        """The steps over the text outside its code blocks, which stay as written (their
        indentation, `x[1]`, URLs: curation.markers.code_segments)."""
        return clean_outside_code(text, self._clean)

    def _clean(self, text: str) -> str:
        for step in self.steps:
            text = step(text)
        return text
