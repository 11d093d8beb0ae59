"""Document filters, one rule set per module.

A filter is a small class with one hook, `check(doc) -> Verdict`: keep, or drop with a stable
reason code for the ledger. Filters may annotate the document (language, scores) as they go.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol


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


class ScoredFilter:
    """A rule set whose scoring is separate from its deciding (dolma's tag-then-threshold).

    `score(text)` measures (the expensive part, no thresholds); `decide(scores)` compares with the
    configured thresholds and returns the first failed rule's code with the numbers that failed.
    Changing a threshold never needs a different `score`. `view(doc)` is the text the scores read:
    with `medical` on, the content view (curation.filters.structure: no heading, formula or table
    lines), so the parsers' own markup is never scored as prose.
    """

    name = "scored"
    config: Any

    def view(self, doc: dict) -> str:
        from curation.filters.structure import content_view

        return content_view(doc["text"]) if self.config.medical else doc["text"]

    def score(self, text: str) -> dict[str, float]:
        raise NotImplementedError

    def decide(self, scores: dict[str, float]) -> Verdict:
        raise NotImplementedError

    def check(self, doc: dict) -> Verdict:
        return self.decide(self.score(self.view(doc)))


def config_from(cls, values: dict | None):
    """A rule set's config dataclass from params, refusing keys it does not know (typos)."""
    import dataclasses

    values = dict(values or {})
    known = {f.name for f in dataclasses.fields(cls)}
    unknown = set(values) - known
    if unknown:
        raise ValueError(f"{cls.__name__}: unknown settings {sorted(unknown)} (known: {sorted(known)})")
    for f in dataclasses.fields(cls):
        # YAML gives lists where the dataclass holds tuples (hashable, comparable).
        if isinstance(values.get(f.name), list):
            values[f.name] = tuple(tuple(v) if isinstance(v, list) else v for v in values[f.name])
    return cls(**values)
