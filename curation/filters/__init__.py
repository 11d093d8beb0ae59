"""Document filters, one rule set per module.

A filter is a small class with one hook, `check(doc) -> Verdict`: keep, or drop with a stable
reason code for the ledger. Filters may annotate the document (language, scores) as they go.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True)
class Verdict:
    keep: bool
    reason: str | None = None
    detail: str | None = None


KEEP = Verdict(True)


def drop(reason: str, detail: str | None = None) -> Verdict:
    return Verdict(False, reason, detail)


class Filter(Protocol):
    name: str

    def check(self, doc: dict) -> Verdict: ...
