"""Minimum length: documents too short to teach anything."""
from __future__ import annotations

from dataclasses import dataclass

from curation.filters import KEEP, Verdict, drop


@dataclass(frozen=True)
class MinLengthConfig:
    min_chars: int = 200
    min_words: int = 30


class MinLength:
    name = "min_length"

    def __init__(self, config: MinLengthConfig = MinLengthConfig()):
        self.config = config

    def check(self, doc: dict) -> Verdict:
        text, c = doc["text"], self.config
        if len(text) < c.min_chars:
            return drop("too_short_chars", f"{len(text)} < {c.min_chars} characters")
        words = len(text.split())
        if words < c.min_words:
            return drop("too_short_words", f"{words} < {c.min_words} words")
        return KEEP
