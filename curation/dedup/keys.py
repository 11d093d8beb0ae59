"""Keys that identify the same text or the same record."""
from __future__ import annotations

import hashlib
import re
import unicodedata

_SPACE = re.compile(r"\s+")


def normalize_for_hash(text: str) -> str:
    """Unicode-compatible, case-folded, whitespace-collapsed text: trivial variants hash alike."""
    return _SPACE.sub(" ", unicodedata.normalize("NFKC", text).casefold()).strip()


def text_hash(text: str) -> str:
    return hashlib.blake2b(normalize_for_hash(text).encode("utf-8"), digest_size=16).hexdigest()
