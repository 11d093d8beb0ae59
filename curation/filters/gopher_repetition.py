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
from itertools import accumulate
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


def ngram_ids(word_ids: list[int], previous: list[int], n: int) -> list[int]:
    """One integer per n-gram, equal exactly when the n-grams are: the (n-1)-gram at i and the
    word at i+n-1 interned together. Each level costs one dict lookup per position instead of
    joining and hashing n words of text (what string n-grams cost, n times over)."""
    table: dict[tuple[int, int], int] = {}
    setdefault = table.setdefault
    return [setdefault(pair, len(table)) for pair in zip(previous, word_ids[n - 1 :])]


def top_ngram_chars(ids: list[int], counts: Counter, prefix_len: list[int], n: int) -> int:
    """Characters of the most frequent n-gram (words joined by spaces) times its count."""
    if not ids:
        return 0
    best, count = counts.most_common(1)[0]
    i = ids.index(best)
    return (prefix_len[i + n] - prefix_len[i] + n - 1) * count


def duplicated_ngram_chars(ids: list[int], counts: Counter, prefix_len: list[int], n: int) -> int:
    """Characters in repeated n-grams (words joined without spaces); after a repeat the scan jumps
    past it (as datatrove). Only n-grams that occur more than once can repeat, so only their
    positions are walked: the others would be seen once and never matched."""
    seen: set[int] = set()
    chars = next_free = 0
    for i in [i for i, gram in enumerate(ids) if counts[gram] > 1]:
        if i < next_free:  # inside the repeat just counted
            continue
        if ids[i] in seen:
            chars += prefix_len[i + n] - prefix_len[i]
            next_free = i + n
        else:
            seen.add(ids[i])
    return chars


def ngram_scores(ws: list[str], top_n: list[int], dup_n: list[int]) -> tuple[dict[int, int], dict[int, int]]:
    """(top n-gram characters by n, duplicated n-gram characters by n) for the Gopher rules.

    An n-gram that occurs once makes every longer n-gram holding it occur once: when a level has no
    repeat, the duplicated characters of every longer level are 0 without counting them."""
    words_table: dict[str, int] = {}
    word_ids = [words_table.setdefault(w, len(words_table)) for w in ws]
    prefix_len = [0, *accumulate(map(len, ws))]  # characters of the first i words
    top, dup = {}, {}
    ids, repeats = word_ids, True
    for n in range(1, max([*top_n, *dup_n, 1]) + 1):
        if n > 1:
            if not repeats and n > max(top_n, default=0):
                dup.update((m, 0) for m in dup_n if m >= n)
                break
            ids = ngram_ids(word_ids, ids, n)
        counts = Counter(ids)
        repeats = len(counts) < len(ids)
        if n in top_n:
            top[n] = top_ngram_chars(ids, counts, prefix_len, n)
        if n in dup_n:
            dup[n] = duplicated_ngram_chars(ids, counts, prefix_len, n) if repeats else 0
    return top, dup


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
        top, dup = ngram_scores(words(text), [n for n, _ in self.config.top_n_grams], [n for n, _ in self.config.dup_n_grams])
        for n, chars in top.items():
            scores[f"top_{n}_gram"] = chars / size
        for n, chars in dup.items():
            scores[f"dup_{n}_gram"] = chars / size
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
