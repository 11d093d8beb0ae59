"""Language identification with langdetect, made deterministic.

langdetect samples n-grams at random; a fixed seed set before every call makes the same text
give the same answer in every process. Only a bounded prefix is read: the language of a
document is settled long before its end, and cost stays flat for long papers.
"""
from __future__ import annotations

from curation.filters import KEEP, Verdict, drop


def detect_language(text: str, seed: int = 0, prefix_chars: int = 2000) -> tuple[str, float]:
    """The most probable language code and its probability; ("unknown", 0.0) when there is no signal."""
    from langdetect import DetectorFactory, detect_langs
    from langdetect.lang_detect_exception import LangDetectException

    DetectorFactory.seed = seed
    try:
        best = detect_langs(text[:prefix_chars])[0]
    except (LangDetectException, IndexError):
        return "unknown", 0.0
    return best.lang, round(best.prob, 6)


class LanguageFilter:
    """Keeps documents in the wanted languages with enough confidence; annotates lang/lang_score."""

    name = "language"

    def __init__(self, languages: tuple[str, ...] = ("en",), min_score: float = 0.8, seed: int = 0, prefix_chars: int = 2000):
        self.languages = tuple(languages)
        self.min_score = min_score
        self.seed = seed
        self.prefix_chars = prefix_chars

    def check(self, doc: dict) -> Verdict:
        lang, score = detect_language(doc["text"], self.seed, self.prefix_chars)
        doc["lang"], doc["lang_score"] = lang, score
        if lang not in self.languages:
            return drop(f"lang_not_{'_'.join(self.languages)}:{lang}", f"detected {lang} ({score:.3f})")
        if score < self.min_score:
            return drop("lang_low_score", f"{lang} {score:.3f} < {self.min_score}")
        return KEEP
