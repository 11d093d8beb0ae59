"""Where the web-text defaults misfire on medical literature, and what the rule sets do instead.

Each quality rule set takes `medical=True` (the default in params.yaml) to apply these:
- LaTeX: formulas in full text (`$\\frac{a}{b}$`, `\\mathrm{mg}`) carry braces; C4's "drop any
  document with `{`" exists to catch JavaScript and CSS, so braces inside LaTeX do not count.
- citation brackets: `... as shown before [12, 13]` ends in `]`, not in a full stop; the line
  still ends a sentence, so trailing citation markers are ignored when looking for terminal
  punctuation.
- tables: rows of numbers and tab- or pipe-separated cells are neither prose lines without
  punctuation nor "short lines"; line-based ratios skip them.
- short lines in structured abstracts and papers: the title and section headings
  ("BACKGROUND", "Methods:", "2.3 Statistical analysis") are short and unpunctuated by nature;
  line-based ratios skip them too.
"""
from __future__ import annotations

import re

_LATEX = re.compile(
    r"\$\$.+?\$\$|\$[^$\n]+\$|\\\(.+?\\\)|\\\[.+?\\\]"
    r"|\\begin\{(\w+\*?)\}.*?\\end\{\1\}"
    r"|\\[a-zA-Z]+\*?(?:\[[^\]]*\])?(?:\{[^{}]*\})+",
    re.DOTALL,
)
_TRAILING_CITATIONS = re.compile(r"(?:\s*\[\d{1,4}(?:\s*[,\u2013\u2014-]\s*\d{1,4})*\])+\s*$")
_HEADING = re.compile(
    r"^(?:\d+(?:\.\d+)*\.?\s+)?[A-Z][A-Za-z0-9 ,&/()'-]{0,60}:?$"
)
_NUMBERISH = re.compile(r"^[\d.,;:%±<>=≤≥()\[\]/+\-–—x×\s]+$")


def strip_latex(text: str) -> str:
    return _LATEX.sub(" ", text)


def strip_trailing_citations(line: str) -> str:
    return _TRAILING_CITATIONS.sub("", line)


def is_heading(line: str) -> bool:
    """A title or section heading: short, capitalised, no sentence punctuation, at most 8 words."""
    line = line.strip()
    return bool(line) and len(line.split()) <= 8 and bool(_HEADING.match(line))


def is_table_row(line: str) -> bool:
    if line.count("\t") >= 2 or line.count("|") >= 2:
        return True
    cells = line.split()
    return len(cells) >= 2 and sum(bool(_NUMBERISH.match(c)) for c in cells) / len(cells) >= 0.6


def is_structural(line: str) -> bool:
    """Lines that line-level prose rules should not judge."""
    return is_heading(line) or is_table_row(line)
