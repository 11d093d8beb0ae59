"""C4 rules (Raffel et al. 2020), with datatrove's published defaults (`C4QualityFilter`).

Line rules remove lines and rewrite the text; document rules drop the document:
- lines: citation markers stripped, lines with a word over `max_word_length`, without terminal
  punctuation (off by default, as in the FineWeb run), with fewer than `min_words_per_line` words,
  mentioning javascript, or cookie/privacy/terms-of-use notices are removed;
- documents: c4_lorem_ipsum, c4_curly_bracket, c4_too_few_sentences.
Medical overrides: the parsers' structure (curation.filters.structure) is respected: headings,
formula lines and table rows are never removed, never counted as sentences and never read for
braces (a formula's LaTeX); list items and captions are not judged by their length or
punctuation, but are read for content (javascript, policy notices) and counted as sentences.
Braces inside LaTeX do not count; a line ending in citation markers ends where its text ends; the
citation markers stripped are those of curation/citations.py, not a result's bracketed interval.
Blank lines are kept (datatrove drops them) so paragraphs survive.
Hard-wrapped text (`wrapped`, set per source: Reuters, newsgroup posts) is judged a paragraph at a
time (structure.wrapped_units): its short last line ("agreements.") is the end of a sentence, not a
line of boilerplate, and a sentence is counted once however many lines it spans.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

from curation.citations import remove_citation_markers
from curation.filters import KEEP, Verdict, drop
from curation.filters.medical import strip_latex, strip_trailing_citations
from curation.filters.structure import CODE, FORMULA, LIST, NOT_CONTENT, PLAIN_HEADING, PROSE, list_indent, text_kinds, wrapped_units

_CITATION = re.compile(r"\[\d*]|\[edit]|\[citation needed]", re.IGNORECASE)  # datatrove's
_WIKI_MARKS = re.compile(r"\[edit]|\[citation needed]", re.IGNORECASE)
_SENTENCE_END = re.compile(r"[.!?]+(?:[\"')\]]*)(?=\s+[\"'(\[]?[A-Z0-9]|\s*$)")
END_PUNCTUATION = (".", "?", "!", '"', "'")
POLICY = ("terms of use", "privacy policy", "cookie policy", "uses cookies", "use of cookies", "use cookies")


@dataclass(frozen=True)
class C4Config:
    split_paragraph: bool = True
    remove_citations: bool = True
    filter_no_terminal_punct: bool = False
    min_num_sentences: int = 5
    min_words_per_line: int = 3
    max_word_length: int = 1000
    filter_lorem_ipsum: bool = True
    filter_javascript: bool = True
    filter_curly_bracket: bool = True
    filter_policy: bool = True
    medical: bool = True
    wrapped: bool = False  # hard-wrapped text (Reuters, newsgroups): judge paragraphs, not physical lines


def remove_citations(line: str, medical: bool) -> str:
    """datatrove's `[n]`, `[]`, `[edit]`, `[citation needed]`; with `medical`, only what
    curation/citations.py takes for a marker (never "16 [6-22]", "[0, 1]", "x[1]")."""
    if medical:
        return _WIKI_MARKS.sub("", remove_citation_markers(line))
    return _CITATION.sub("", line)


def count_sentences(line: str) -> int:
    return len(_SENTENCE_END.findall(line)) or (1 if line.strip() else 0)


class C4Quality:
    name = "c4"

    def __init__(self, config: C4Config = C4Config()):
        self.config = config

    def apply(self, text: str) -> tuple[str, dict[str, float], Verdict]:
        """(kept text, scores, verdict): the line pass and the document rules in one read. In a
        hard-wrapped source (`wrapped`) a "line" is a unit of structure.wrapped_units, a paragraph,
        judged whole and kept or removed with all of its physical lines."""
        c = self.config
        kept: list[str] = []
        sentences = removed = 0
        raws = text.split("\n")
        kinds = text_kinds(text) if c.medical else [PROSE] * len(raws)
        units = wrapped_units(raws, kinds) if c.wrapped else [range(i, i + 1) for i in range(len(raws))]
        for unit in units:
            first, kind = raws[unit.start], kinds[unit.start]
            pieces = [raws[i].strip() for i in unit]
            if not pieces[0]:
                kept.append("")
                continue
            if kind in NOT_CONTENT:  # headings, formulas, table rows, code: the parser's structure, kept
                if kind != FORMULA and c.filter_curly_bracket and "{" in strip_latex(pieces[0]):
                    return text, {"lines_removed": removed}, drop("c4_curly_bracket", pieces[0][:80])
                kept.append(first.rstrip() if kind == CODE else pieces[0])  # code keeps its indentation
                continue
            if c.remove_citations:
                pieces = [remove_citations(piece, c.medical).strip() for piece in pieces]
            line = " ".join(piece for piece in pieces if piece)
            lower = line.lower()
            if c.filter_lorem_ipsum and "lorem ipsum" in lower:
                return text, {"lines_removed": removed}, drop("c4_lorem_ipsum")
            words = line.split()
            # list items and captions are short or unpunctuated by nature; a plain heading that wraps on is prose
            shaped = kind == PROSE or (kind == PLAIN_HEADING and len(unit) > 1)
            ending = strip_trailing_citations(line) if c.medical else line
            if (
                any(len(w) > c.max_word_length for w in words)
                or (c.filter_no_terminal_punct and shaped and (not ending.endswith(END_PUNCTUATION) or ending.endswith("...")))
                or (len(words) < c.min_words_per_line and shaped)
                or (c.filter_javascript and "javascript" in lower)
                or (c.filter_policy and any(p in lower for p in POLICY))
            ):
                removed += 1
                continue
            if c.filter_curly_bracket and "{" in (strip_latex(line) if c.medical else line):
                return text, {"lines_removed": removed}, drop("c4_curly_bracket", line[:80])
            sentences += count_sentences(line)
            kept.append(list_indent(first) + pieces[0] if kind == LIST else pieces[0])
            kept.extend(piece for piece in pieces[1:] if piece)  # a wrapped unit keeps its line breaks
        scores = {"lines_removed": removed, "sentences": sentences}
        if c.min_num_sentences >= 0 and sentences < c.min_num_sentences:
            return text, scores, drop("c4_too_few_sentences", f"{sentences} sentences < {c.min_num_sentences}")
        return "\n".join(kept).strip(), scores, KEEP

    def check(self, doc: dict) -> Verdict:
        text, _, verdict = self.apply(doc["text"])
        if verdict.keep:
            doc["text"] = re.sub(r"\n{3,}", "\n\n", text)
        return verdict
