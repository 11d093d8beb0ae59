"""Word, line and paragraph splitting shared by the quality rule sets.

datatrove splits words with spaCy's blank tokenizer; a regex that separates runs of word
characters from runs of punctuation gives the same counts on English prose without loading spaCy
in every worker. A "symbol word" is a token made only of punctuation.
"""
from __future__ import annotations

import re

_TOKEN = re.compile(r"\w+(?:[-'’.]\w+)*|[^\w\s]+")
_PARAGRAPHS = re.compile(r"\n{2,}")
_LINES = re.compile(r"\n+")

# The sentence-final marks of the main scripts (datatrove's TERMINAL_PUNCTUATION is a larger
# Unicode set; these cover the languages that reach the quality rules after language ID).
TERMINAL_PUNCTUATION = frozenset(".!?\"'”’»…。！？؟।॥።۔")


def tokens(text: str) -> list[str]:
    return _TOKEN.findall(text)


_ALNUM = re.compile(r"[^\W_]")  # a letter or digit: exactly the characters str.isalnum() accepts


def is_symbol(token: str) -> bool:
    """Made only of punctuation: no letter or digit (one regex search, not a loop per character)."""
    return _ALNUM.search(token) is None


def words(text: str) -> list[str]:
    """Tokens that are not made only of punctuation."""
    return [t for t in tokens(text) if not is_symbol(t)]


def lines(text: str) -> list[str]:
    return [line for line in _LINES.split(text) if line.strip()]


def paragraphs(text: str) -> list[str]:
    return [p for p in _PARAGRAPHS.split(text.strip()) if p.strip()]
