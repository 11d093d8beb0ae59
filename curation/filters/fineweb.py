"""FineWeb quality rules (Penedo et al. 2024), with datatrove's published defaults.

Drop codes: fineweb_empty, fineweb_line_punct_ratio, fineweb_short_line_ratio,
fineweb_char_dup_ratio, fineweb_list_ratio.
Medical overrides (curation.filters.structure): only prose lines are judged by their punctuation
and length (headings, formulas, table rows, list items and captions are short or unpunctuated by
nature); repeated characters are counted over content lines (a heading that recurs is not
repetition); line breaks per word count the lines of the content view, not the blank lines the
parsers put between paragraphs. Trailing citation markers do not hide a full stop.
In a hard-wrapped source (`wrapped`) the ratios are of paragraphs, not of terminal-width lines: a
Reuters story wrapped at 70 columns has one line in five ending in a full stop, which
`line_punct_thr` (0.12) read as a page of navigation links.
"""
from __future__ import annotations

from dataclasses import dataclass

from curation.filters import KEEP, ScoredFilter, Verdict, drop
from curation.filters.gopher_repetition import find_duplicates
from curation.filters.medical import strip_trailing_citations
from curation.filters.structure import NOT_CONTENT, PROSE, text_kinds, unwrap
from curation.filters.text import TERMINAL_PUNCTUATION, words


@dataclass(frozen=True)
class FineWebConfig:
    line_punct_thr: float = 0.12
    line_punct_exclude_zero: bool = False
    short_line_thr: float = 0.67
    short_line_length: int = 30
    char_duplicates_ratio: float = 0.01
    new_line_ratio: float = 0.3
    medical: bool = True
    wrapped: bool = False  # hard-wrapped text: the line ratios read paragraphs (structure.unwrap)


class FineWebQuality(ScoredFilter):
    name = "fineweb"

    def __init__(self, config: FineWebConfig = FineWebConfig()):
        self.config = config
        self._stops = tuple(TERMINAL_PUNCTUATION)

    def view(self, doc: dict) -> str:
        # the line kinds are read in `score`; hard-wrapped text is judged by its paragraphs
        return unwrap(doc["text"]) if self.config.wrapped else doc["text"]

    def score(self, text: str) -> dict[str, float]:
        c = self.config
        raw = text.split("\n")
        classified = zip(raw, text_kinds(text) if c.medical else [PROSE] * len(raw))
        lines_and_kinds = [(line.strip(), kind) for line, kind in classified if line.strip()]
        all_lines = [line for line, _ in lines_and_kinds]
        if not all_lines:
            return {"lines": 0}
        if c.medical:
            kinds = [kind for _, kind in lines_and_kinds]
            prose = [line for line, kind in zip(all_lines, kinds) if kind == PROSE] or all_lines
            content = [line for line, kind in zip(all_lines, kinds) if kind not in NOT_CONTENT]
            ends = [strip_trailing_citations(line) for line in prose]
            breaks = max(len(content) - 1, 0)
        else:
            prose = content = ends = all_lines
            breaks = text.count("\n")
        n_words = len(words(text))
        return {
            "lines": len(all_lines),
            "line_punct_ratio": sum(e.endswith(self._stops) for e in ends) / len(prose),
            "short_line_ratio": sum(len(line) <= c.short_line_length for line in prose) / len(prose),
            "char_dup_ratio": find_duplicates(content)[1] / max(len(text.replace("\n", "")), 1),
            "list_ratio": breaks / n_words if n_words else 1.0,
        }

    def decide(self, s: dict[str, float]) -> Verdict:
        c = self.config
        if not s["lines"]:
            return drop("fineweb_empty")
        ratio = s["line_punct_ratio"]
        if ratio < c.line_punct_thr and not (ratio == 0 and c.line_punct_exclude_zero):
            return drop("fineweb_line_punct_ratio", f"{ratio:.2f} of lines end in punctuation < {c.line_punct_thr}")
        if s["short_line_ratio"] > c.short_line_thr:
            return drop("fineweb_short_line_ratio", f"{s['short_line_ratio']:.2f} of lines <= {c.short_line_length} chars")
        if s["char_dup_ratio"] > c.char_duplicates_ratio:
            return drop("fineweb_char_dup_ratio", f"{s['char_dup_ratio']:.3f} of characters in repeated lines")
        if s["list_ratio"] > c.new_line_ratio:
            return drop("fineweb_list_ratio", f"{s['list_ratio']:.2f} line breaks per word")
        return KEEP
