"""Gopher repetition rules (Rae et al. 2021), with datatrove's published defaults.

Drop codes: gopher_dup_para_frac, gopher_dup_para_char_frac, gopher_dup_line_frac,
gopher_dup_line_char_frac, gopher_top_<n>_gram, gopher_dup_<n>_gram.
Medical overrides: the title is not repeated content when the abstract restates it (common:
"Effect of ramipril on mitral regurgitation..." then "Ramipril reduced mitral regurgitation..."),
so repetition is measured on the text after the title; and every measure reads the content view
(curation.filters.structure): headings ("## Methods" in the abstract and again in the body),
formulas and table rows ("NS", "—", "0.5 (0.2-0.9)" down a column) are not repeated prose.
"""
from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

from curation.filters import KEEP, ScoredFilter, Verdict, drop
from curation.filters.structure import content_view
from curation.filters.text import lines, paragraphs, words


def find_duplicates(items: list[str]) -> tuple[int, int]:
    """(repeated elements, characters in them): the first occurrence is not a repeat."""
    seen: set[str] = set()
    count = chars = 0
    for item in items:
        if item in seen:
            count += 1
            chars += len(item)
        else:
            seen.add(item)
    return count, chars


def top_ngram_chars(ws: list[str], n: int) -> int:
    grams = Counter(" ".join(ws[i : i + n]) for i in range(len(ws) - n + 1))
    if not grams:
        return 0
    gram, count = grams.most_common(1)[0]
    return len(gram) * count


def duplicated_ngram_chars(ws: list[str], n: int) -> int:
    """Characters in repeated n-grams; after a repeat the scan jumps past it (as datatrove)."""
    seen: set[str] = set()
    chars, i = 0, 0
    while i < len(ws) - n + 1:
        gram = "".join(ws[i : i + n])
        if gram in seen:
            chars += len(gram)
            i += n
        else:
            seen.add(gram)
            i += 1
    return chars


@dataclass(frozen=True)
class GopherRepetitionConfig:
    dup_para_frac: float = 0.3
    dup_para_char_frac: float = 0.2
    dup_line_frac: float = 0.3
    dup_line_char_frac: float = 0.2
    top_n_grams: tuple = ((2, 0.2), (3, 0.18), (4, 0.16))
    dup_n_grams: tuple = ((5, 0.15), (6, 0.14), (7, 0.13), (8, 0.12), (9, 0.11), (10, 0.10))
    medical: bool = True


class GopherRepetition(ScoredFilter):
    name = "gopher_repetition"

    def __init__(self, config: GopherRepetitionConfig = GopherRepetitionConfig()):
        self.config = config

    def view(self, doc: dict) -> str:
        text = doc["text"]
        title = (doc.get("title") or "").strip()
        if self.config.medical:
            if title and text.startswith(title):
                text = text[len(title) :].lstrip()
            text = content_view(text)
        return text

    def score(self, text: str) -> dict[str, float]:
        size = max(len(text), 1)
        paras = paragraphs(text)
        doc_lines = lines(text)
        para_dups, para_chars = find_duplicates(paras)
        line_dups, line_chars = find_duplicates(doc_lines)
        scores = {
            "dup_para_frac": para_dups / len(paras) if paras else 0.0,
            "dup_para_char_frac": para_chars / size,
            "dup_line_frac": line_dups / len(doc_lines) if doc_lines else 0.0,
            "dup_line_char_frac": line_chars / size,
        }
        ws = words(text)
        for n, _ in self.config.top_n_grams:
            scores[f"top_{n}_gram"] = top_ngram_chars(ws, n) / size
        for n, _ in self.config.dup_n_grams:
            scores[f"dup_{n}_gram"] = duplicated_ngram_chars(ws, n) / size
        return scores

    def decide(self, s: dict[str, float]) -> Verdict:
        c = self.config
        for key, limit in (
            ("dup_para_frac", c.dup_para_frac),
            ("dup_para_char_frac", c.dup_para_char_frac),
            ("dup_line_frac", c.dup_line_frac),
            ("dup_line_char_frac", c.dup_line_char_frac),
        ):
            if s[key] > limit:
                return drop(f"gopher_{key}", f"{key} {s[key]:.3f} > {limit}")
        for kind, rules in (("top", c.top_n_grams), ("dup", c.dup_n_grams)):
            for n, limit in rules:
                key = f"{kind}_{n}_gram"
                if s[key] > limit:
                    return drop(f"gopher_{key}", f"{key} char share {s[key]:.3f} > {limit}")
        return KEEP
