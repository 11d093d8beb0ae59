"""Gopher quality rules (Rae et al. 2021), with datatrove's published defaults.

Drop codes: gopher_short_doc, gopher_long_doc, gopher_below_avg_threshold,
gopher_above_avg_threshold, gopher_too_many_hashes, gopher_too_many_ellipsis,
gopher_too_many_bullets, gopher_too_many_end_ellipsis, gopher_below_alpha_threshold,
gopher_enough_stop_words (datatrove's names). Medical overrides: the scores read the content view
(curation.filters.structure), so heading markers are not "#" symbols and formulas and table rows
are not words; a word with a digit counts as a word with a letter ("5 mg", "p<0.01"). In a
hard-wrapped source (`wrapped`) the bullet and ellipsis line ratios count paragraphs.
"""
from __future__ import annotations

from dataclasses import dataclass

from curation.filters import KEEP, ScoredFilter, Verdict, drop
from curation.filters.structure import unwrap
from curation.filters.text import lines, tokens, is_symbol

STOP_WORDS = ("the", "be", "to", "of", "and", "that", "have", "with")


@dataclass(frozen=True)
class GopherQualityConfig:
    min_doc_words: int = 50
    max_doc_words: int = 100_000
    min_avg_word_length: float = 3
    max_avg_word_length: float = 10
    max_symbol_word_ratio: float = 0.1
    max_bullet_lines_ratio: float = 0.9
    max_ellipsis_lines_ratio: float = 0.3
    max_non_alpha_words_ratio: float = 0.8  # misnamed upstream: the minimum share of words with a letter
    min_stop_words: int = 2
    stop_words: tuple[str, ...] = STOP_WORDS
    medical: bool = True
    wrapped: bool = False  # hard-wrapped text: bullet and ellipsis lines are paragraphs (structure.unwrap)


def _alpha_share(items: list[str], numbers_count: bool = False) -> float:
    def content(w: str) -> bool:
        return any(c.isalnum() if numbers_count else c.isalpha() for c in w)

    return sum(map(content, items)) / len(items) if items else 0.0


class GopherQuality(ScoredFilter):
    name = "gopher_quality"

    def __init__(self, config: GopherQualityConfig = GopherQualityConfig()):
        self.config = config
        self._stop = frozenset(config.stop_words)

    def view(self, doc: dict) -> str:
        return super().view({"text": unwrap(doc["text"])} if self.config.wrapped else doc)

    def score(self, text: str) -> dict[str, float]:
        toks = tokens(text)
        words = [t for t in toks if not is_symbol(t)]
        n = len(words)
        doc_lines = lines(text) or [""]
        stripped = [line.lstrip() for line in doc_lines]
        return {
            "n_words": n,
            "avg_word_length": sum(map(len, words)) / n if n else 0.0,
            "hash_ratio": text.count("#") / n if n else 0.0,
            "ellipsis_ratio": (text.count("...") + text.count("…")) / n if n else 0.0,
            "bullet_lines_ratio": sum(s.startswith(("•", "-")) for s in stripped) / len(doc_lines),
            "end_ellipsis_lines_ratio": sum(s.rstrip().endswith(("...", "…")) for s in stripped) / len(doc_lines),
            "alpha_words_ratio": (
                _alpha_share(text.split(), numbers_count=True) if self.config.medical else _alpha_share(toks)
            ),
            "stop_words": len(self._stop.intersection(w.lower() for w in words)),
        }

    def decide(self, s: dict[str, float]) -> Verdict:
        c = self.config
        checks = [
            (s["n_words"] < c.min_doc_words, "gopher_short_doc", f"{s['n_words']} words < {c.min_doc_words}"),
            (s["n_words"] > c.max_doc_words, "gopher_long_doc", f"{s['n_words']} words > {c.max_doc_words}"),
            (s["avg_word_length"] < c.min_avg_word_length, "gopher_below_avg_threshold", f"mean word length {s['avg_word_length']:.2f}"),
            (s["avg_word_length"] > c.max_avg_word_length, "gopher_above_avg_threshold", f"mean word length {s['avg_word_length']:.2f}"),
            (s["hash_ratio"] > c.max_symbol_word_ratio, "gopher_too_many_hashes", f"'#' per word {s['hash_ratio']:.3f}"),
            (s["ellipsis_ratio"] > c.max_symbol_word_ratio, "gopher_too_many_ellipsis", f"ellipses per word {s['ellipsis_ratio']:.3f}"),
            (s["bullet_lines_ratio"] > c.max_bullet_lines_ratio, "gopher_too_many_bullets", f"bullet lines {s['bullet_lines_ratio']:.2f}"),
            (s["end_ellipsis_lines_ratio"] > c.max_ellipsis_lines_ratio, "gopher_too_many_end_ellipsis", f"lines ending in an ellipsis {s['end_ellipsis_lines_ratio']:.2f}"),
            (s["alpha_words_ratio"] < c.max_non_alpha_words_ratio, "gopher_below_alpha_threshold", f"words with a letter {s['alpha_words_ratio']:.2f}"),
            (s["stop_words"] < c.min_stop_words, "gopher_enough_stop_words", f"{s['stop_words']} distinct stop words < {c.min_stop_words}"),
        ]
        for failed, reason, detail in checks:
            if failed:
                return drop(reason, detail)
        return KEEP
