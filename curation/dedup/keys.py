"""Keys that identify the same text or the same record."""
from __future__ import annotations

import hashlib
import unicodedata


def normalize_for_hash(text: str) -> str:
    """Unicode-compatible, case-folded, whitespace-collapsed text: trivial variants hash alike."""
    # str.split() splits on exactly the characters `\s` matches, and is several times faster.
    return " ".join(unicodedata.normalize("NFKC", text).casefold().split())


def text_hash(text: str) -> str:
    return hashlib.blake2b(normalize_for_hash(text).encode("utf-8"), digest_size=16).hexdigest()
