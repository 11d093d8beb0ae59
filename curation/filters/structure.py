"""The structure the parsers write, as every filter rule sees it: one notion of a structural line.

The parsers render documents as markdown-like text (sources/pmc/jats, sources/guidelines,
sources/pubmed, sources/replay):
- headings: `# Abstract`, `## 2.3 Statistical analysis` (JATS sections, guideline pages, GROBID
  PDFs); plain text has unmarked ones too (a title, "BACKGROUND", "Methods:"), told apart only by
  a guess (short, capitalised, unpunctuated) that hard-wrapped prose also fits ("Excelan Inc said
  it is making an" in Reuters), so a plain heading is spared the shape rules but still read as
  content;
- display formulas: one line `[formula] … [/formula]` (JATS `formulas: tagged`);
- table rows: `| cell | cell |` (JATS `tables: linearize`, guideline HTML tables; markdown rows,
  curation.markers.table_row), and in plain text tab-separated or mostly numeric lines;
- list items: `- item`, indented two spaces a level (JATS lists and definition lists, guideline
  lists and the bullets guideline cleaning turns into `- `);
- captions: `[fig] … [/fig]`, `[table] … [/table]`, possibly over several lines when a
  linearized table follows its caption;
- code blocks: the lines between two ``` fences (JATS `<preformat>`/`<code>`, guideline `<pre>`),
  kept as written: cleaning leaves them alone, no rule judges their shape, and their words are
  not prose.
PubMed writes a title line and `LABEL: text` abstract sections; replay writes plain text, which
Reuters and newsgroup posts hard-wrap at about 70 columns: a line there is a piece of a paragraph,
not a paragraph, and the rules that judge lines read that text's paragraphs instead (`unwrap`,
`wrapped_units`; params `filter.wrapped`, set per source).

Rules use the kinds in two ways:
- *shape* rules (short lines, terminal punctuation, line-length ratios) judge prose lines only:
  a heading, a list item or a caption is short or unpunctuated by nature;
- *content* rules (repetition, sentence counts, function words, symbol ratios) read the
  `content_view`: the text without heading, formula and table lines, because a repeated "##
  Methods" heading is not repeated prose and a formula is not words. List items and captions are
  content: their words count.
"""
from __future__ import annotations

import re
from functools import lru_cache

from curation import markers

HEADING, PLAIN_HEADING, FORMULA, TABLE, LIST, CAPTION, CODE, PROSE = (
    "heading", "plain_heading", "formula", "table", "list", "caption", "code", "prose")
NOT_CONTENT = frozenset({HEADING, FORMULA, TABLE, CODE})  # kinds left out of the content view

_MARKDOWN_HEADING = re.compile(r"^#{1,6} +(?!#)\S")
# Unmarked headings of plain text: short, capitalised, no sentence punctuation.
_PLAIN_HEADING = re.compile(r"^(?:\d+(?:\.\d+)*\.?\s+)?[A-Z][A-Za-z0-9 ,&/()'-]{0,60}:?$")
_FORMULA_LINE = re.compile(r"^\[formula\].*\[/formula\]$")
_CAPTION = re.compile(r"^\[(fig|table)\]|\[/(fig|table)\]$")
# A whitespace-separated cell made only of digits, separators, signs and brackets ("3.4", "(12%)", "2x3").
_NUMBERISH_CELL = re.compile(r"(?<!\S)[\d.,;:%±<>=≤≥()\[\]/+\-–—x×]+(?!\S)")


def is_heading(line: str) -> bool:
    """A markdown heading: `#` to `######`, a space, text."""
    return bool(_MARKDOWN_HEADING.match(line.strip()))


def is_plain_heading(line: str) -> bool:
    """Looks like a title or section heading of plain text: at most 8 capitalised, unpunctuated words."""
    line = line.strip()
    return bool(line) and len(line.split()) <= 8 and bool(_PLAIN_HEADING.match(line))


def is_table_row(line: str) -> bool:
    """A row the renderers wrote (`| cell | cell |`, curation.markers.table_row), or a row of plain
    text: tab-separated, or mostly numbers. A `|` inside a line is no sign: prose has them
    ("p(s | spike)", "|x|"), and 15 of 22 lines it once marked in 130 real PMC papers were prose."""
    if markers.is_table_row(line):
        return True
    line = line.strip()
    if line.count("\t") >= 2:
        return True
    cells = len(line.split())
    return cells >= 2 and len(_NUMBERISH_CELL.findall(line)) / cells >= 0.6


def line_kind(line: str) -> str:
    """HEADING, FORMULA, PLAIN_HEADING, CAPTION, LIST, TABLE or PROSE, in that order of precedence."""
    line = line.strip()
    if _FORMULA_LINE.match(line):
        return FORMULA
    if is_heading(line):
        return HEADING
    if is_plain_heading(line):
        return PLAIN_HEADING
    if _CAPTION.search(line):
        return CAPTION
    if markers.is_list_item(line):
        return LIST
    if is_table_row(line):
        return TABLE
    return PROSE


def line_kinds(lines: list[str]) -> list[str]:
    """The kind of every line of a text: CODE inside a code block (curation.markers.code_block,
    fences included; a block spans lines, so a line alone cannot tell), else `line_kind`."""
    return [CODE if code else line_kind(line) for line, code in zip(lines, markers.in_code(lines))]


@lru_cache(maxsize=16)
def text_kinds(text: str) -> tuple[str, ...]:
    """`line_kinds` of `text.split("\\n")`, remembered for the last few texts: each rule of a
    document's chain reads the kinds of the same text, and classifying its lines is the cost."""
    return tuple(line_kinds(text.split("\n")))


# Kinds that continue onto the next line in hard-wrapped text, and the kinds that can be a continuation.
_WRAPS = frozenset({PROSE, PLAIN_HEADING, LIST, CAPTION})
_CONTINUES = frozenset({PROSE, PLAIN_HEADING})  # a wrapped piece of prose fits the plain-heading guess too


def wrapped_units(lines: list[str], kinds) -> list[range]:
    """The physical lines of hard-wrapped text grouped into the lines a writer meant, as ranges:
    a paragraph (a run of non-blank lines), a list item with the lines that continue it. A heading,
    formula, table row or code line is a unit alone, and so is a blank line; a list item starts a
    new unit. Every line is in exactly one unit, in order."""
    units: list[range] = []
    opener = None  # the kind of the unit being extended, if it can be
    for i, (line, kind) in enumerate(zip(lines, kinds)):
        if opener in _WRAPS and kind in _CONTINUES and line.strip():
            units[-1] = range(units[-1].start, i + 1)
            continue
        units.append(range(i, i + 1))
        opener = kind if line.strip() else None
    return units


@lru_cache(maxsize=16)
def unwrap(text: str) -> str:
    """Hard-wrapped text with each of its units on one line (`wrapped_units`, pieces joined by a
    space): what the line rules judge in a wrapped source, where the physical lines are the width
    of a terminal. Blank lines stay."""
    lines = text.split("\n")
    return "\n".join(" ".join(lines[i].strip() for i in unit) for unit in wrapped_units(lines, text_kinds(text)))


def content_view(text: str) -> str:
    """The text without heading, formula, table and code lines; blank lines (paragraphs) kept."""
    lines = text.split("\n")
    return "\n".join(line for line, kind in zip(lines, text_kinds(text)) if not line.strip() or kind not in NOT_CONTENT)


def content_prefix(text: str, chars: int) -> str:
    """The first `chars` characters of the content view."""
    out: list[str] = []
    size = 0
    for line, kind in zip(text.split("\n"), text_kinds(text)):
        if line.strip() and kind not in NOT_CONTENT:
            out.append(line)
            size += len(line) + 1
            if size >= chars:
                break
    return "\n".join(out)[:chars]


def list_indent(line: str) -> str:
    """The nesting of a list item (two spaces a level), which whitespace tidying must keep."""
    body = line.lstrip(" ")
    return " " * (len(line) - len(body)) if markers.is_list_item(body) else ""
