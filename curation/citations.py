"""Numeric citation markers in plain text, `[1]`, `[2,3]`, `[4-6]`, `[1, 4–6]`: which brackets are
one, and which only look like one.

Removing markers is cleaning; removing the bracketed numbers of a result is losing it. In the
abstracts and papers of ../shared the same brackets hold interquartile ranges and confidence
intervals ("reduced by 16 [6-22] mmHg", "stroke (39% [15-56])"), intervals ("in the range [0, 1]",
"q ∈ [0, 1]"), degrees of freedom ("F[1,12] = 8.42"), indices ("x[1] * y[2]"), a taxonomic
author's year ("Hübner, [1821]") and the labels of a numbered list ("[1]  What is JPEG?"). A
bracket is taken for a citation marker only when everything says so:
- its numbers are references: 1 to 999, ranges ascending ("1,225-2,540" is a figure);
- it follows a word or closing punctuation, with at most one space between: not a number, a
  percent sign or a symbol (a result's interval), not the start of a line (a list label), not
  glued to a one-letter word (a statistic's degrees of freedom, a subscript);
- the word before it is not "interval" or "range".
Anything else stays as written: a citation left in is noise, a number taken out is a wrong fact.
"""
from __future__ import annotations

import re

_AFTER = r"(?:[^\W\d_]|[.,;:)\]\"'’”])"  # a letter, or punctuation that closes a word or clause
_NUMBER = r"[1-9]\d{0,2}"
_MARKER = re.compile(
    rf"(?:(?<={_AFTER})[^\S\n]|(?<={_AFTER})(?<!\b[^\W\d_]))"  # one space after a word, or glued to a word of 2+ letters
    rf"\[({_NUMBER}(?:\s*[,\u2013\u2014-]\s*{_NUMBER})*)\](?!\w)(\.(?!\.))?"  # and a full stop after it
)
_RANGE = re.compile(r"(\d+)\s*[\u2013\u2014-]\s*(\d+)")
_INTERVAL_WORD = re.compile(r"\b(?:intervals?|ranges?)\s*$", re.IGNORECASE)


def is_marker(match: re.Match) -> bool:
    """A `_MARKER` match whose ranges ascend and that no interval word precedes."""
    if any(int(low) >= int(high) for low, high in _RANGE.findall(match.group(1))):
        return False
    return not _INTERVAL_WORD.search(match.string, max(0, match.start() - 12), match.start())


def remove_citation_markers(text: str) -> str:
    """`text` without its numeric citation markers (and the space before each). A marker between
    two full stops takes one with it: "et al. [25]. Subregions" -> "et al. Subregions"."""
    return _MARKER.sub(_replacement, text)


def _replacement(match: re.Match) -> str:
    if not is_marker(match):
        return match.group()
    stop = match.group(2) or ""
    return "" if stop and match.string[: match.start()].endswith(".") else stop
