"""Deterministic train/validation assignment from a hash of the document id.

A document's split depends on its id alone, so it never moves between runs, machines or
worker counts, and adding documents does not reshuffle the others.
"""
from __future__ import annotations

import hashlib


def id_fraction(doc_id: str, salt: str = "") -> float:
    digest = hashlib.blake2b((salt + doc_id).encode("utf-8"), digest_size=8).digest()
    return int.from_bytes(digest, "big") / 2**64


def assign_split(doc_id: str, validation_share: float, salt: str = "") -> str:
    return "validation" if id_fraction(doc_id, salt) < validation_share else "train"
