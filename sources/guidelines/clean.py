"""Text cleaning that keeps medical notation intact.

MEDITRON's cleaner deleted everything between `<` and `>` on a line ("age <5 ... >2"), every
bracketed span ("[95% CI 1.2-3.4]") and turned every line starting with "o" into a list item
("often" -> "-ften"). Here only numeric citation markers are removed:
    [1]  [2,3]  [4-6]  [1, 4–6]  [12]         bracketed reference numbers after a word
                                              (curation/citations.py, as every source's cleaning)
    ( 1 )  ( 2,3 )                            MMWR's HTML conversion: spaces inside the parentheses
Comparisons, confidence intervals (also bracketed after a number, "16 [6-22]"), dosages and
ordinary parenthesised numbers ("(16 confirmed"), "criterion (2)") are left alone. The same HTML conversion pads figure and table references,
"( Table 1 )": spaces just inside parentheses go. Bullets (•, ▪, , *) become `- `; "o " at a line start stays text
unless it is a bullet glyph inside a list (an indented "o " under a `- ` item).
"""
from __future__ import annotations

import re

from curation.citations import remove_citation_markers
from curation.markers import clean_outside_code

_NUM_LIST = r"\d{1,3}(?:\s*[-–,]\s*\d{1,3})*"
_MMWR_CITATION = re.compile(rf"\s?\(\s+{_NUM_LIST}\s+\)")
_BULLET = re.compile(r"^(\s*)(?:[•▪◦●■]|\uf0b7|\*(?=\s))\s*")
_SUBLIST_O = re.compile(r"^(\s+)o\s+")
_SPACES = re.compile(r"[ \t\u00a0]+")
_SPACE_BEFORE_PUNCT = re.compile(r" +([.,;:](?:\s|$))")
_PADDED_PARENS = re.compile(r"\( +| +\)")


def strip_citations(text: str) -> str:
    return _MMWR_CITATION.sub("", remove_citation_markers(text))


def normalise_lists(text: str) -> str:
    lines = []
    previous_is_item = False
    for line in text.split("\n"):
        line = _BULLET.sub(lambda m: f"{m.group(1)}- ", line)
        if previous_is_item and _SUBLIST_O.match(line):  # a Word "o" sub-bullet under a list item
            line = _SUBLIST_O.sub(lambda m: f"{m.group(1)}- ", line)
        previous_is_item = line.lstrip().startswith("- ")
        lines.append(line)
    return "\n".join(lines)


def clean_text(text: str) -> str:
    """The cleaning above, outside code blocks (kept as written: curation.markers.code_segments)."""
    return clean_outside_code(text, _clean_prose)


def _clean_prose(text: str) -> str:
    text = strip_citations(text)
    text = normalise_lists(text)
    lines = []
    for line in text.split("\n"):
        indent = re.match(r"^\s*", line).group(0) if line.lstrip().startswith("- ") else ""
        body = _SPACE_BEFORE_PUNCT.sub(r"\1", _SPACES.sub(" ", line).strip())
        body = _PADDED_PARENS.sub(lambda m: m.group().strip(), body)
        lines.append(indent + body if body else "")
    text = "\n".join(lines)
    return re.sub(r"\n{3,}", "\n\n", text).strip()
