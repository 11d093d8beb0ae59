"""Where the web-text defaults misfire on medical literature, and what the rule sets do instead.

Each quality rule set takes `medical=True` (the default in params.yaml) to apply these:
- LaTeX: formulas in full text (`$\\frac{a}{b}$`, `\\mathrm{mg}`) carry braces; C4's "drop any
  document with `{`" exists to catch JavaScript and CSS, so braces inside LaTeX do not count.
- citation brackets: `... as shown before [12, 13]` ends in `]`, not in a full stop; the line
  still ends a sentence, so trailing citation markers are ignored when looking for terminal
  punctuation.
- structure: headings, formulas, table rows, list items and captions, as the parsers write them
  and as plain text has them ("BACKGROUND", "Methods:"), are recognised by every rule through one
  notion of a structural line, curation.filters.structure.
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


def strip_latex(text: str) -> str:
    return _LATEX.sub(" ", text)


def strip_trailing_citations(line: str) -> str:
    return _TRAILING_CITATIONS.sub("", line)
