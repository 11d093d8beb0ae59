"""Minimum length: documents too short to teach anything."""
from __future__ import annotations

from curation.filters import KEEP, Verdict, drop


class MinLength:
    name = "min_length"

    def __init__(self, min_chars: int = 200, min_words: int = 30):
        self.min_chars = min_chars
        self.min_words = min_words

    def check(self, doc: dict) -> Verdict:
        text = doc["text"]
        if len(text) < self.min_chars:
            return drop("too_short_chars", f"{len(text)} < {self.min_chars} characters")
        words = len(text.split())
        if words < self.min_words:
            return drop("too_short_words", f"{words} < {self.min_words} words")
        return KEEP
