"""Counting what goes in and out of a stage, and the invariant that nothing disappears.

For every stage:
    documents_in = documents_out + ledgered + record_errors
    inputs       = inputs_parsed + input_errors
A record that could not be read is an error-ledger row naming the record; an input (file, URL)
that could not be read is an error-ledger row without one.
"""
from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field


class AccountingError(RuntimeError):
    """The counts of a stage do not add up: something was lost or invented."""


@dataclass
class Counts:
    documents_in: int = 0
    documents_out: int = 0
    ledgered: int = 0
    record_errors: int = 0
    inputs: int = 0
    inputs_parsed: int = 0
    input_errors: int = 0
    reasons: Counter = field(default_factory=Counter)
    by_source: Counter = field(default_factory=Counter)
    by_split: Counter = field(default_factory=Counter)

    def add(self, other: "Counts") -> "Counts":
        for name in ("documents_in", "documents_out", "ledgered", "record_errors", "inputs", "inputs_parsed", "input_errors"):
            setattr(self, name, getattr(self, name) + getattr(other, name))
        self.reasons.update(other.reasons)
        self.by_source.update(other.by_source)
        self.by_split.update(other.by_split)
        return self

    def to_dict(self) -> dict:
        return {
            "documents_in": self.documents_in,
            "documents_out": self.documents_out,
            "ledgered": self.ledgered,
            "record_errors": self.record_errors,
            "inputs": self.inputs,
            "inputs_parsed": self.inputs_parsed,
            "input_errors": self.input_errors,
            "reasons": dict(sorted(self.reasons.items())),
            "documents_out_by_source": dict(sorted(self.by_source.items())),
            "documents_out_by_split": dict(sorted(self.by_split.items())),
        }

    @classmethod
    def from_dict(cls, data: dict) -> "Counts":
        counts = cls(**{k: data[k] for k in ("documents_in", "documents_out", "ledgered", "record_errors", "inputs", "inputs_parsed", "input_errors")})
        counts.reasons = Counter(data.get("reasons", {}))
        counts.by_source = Counter(data.get("documents_out_by_source", {}))
        counts.by_split = Counter(data.get("documents_out_by_split", {}))
        return counts

    def check(self, stage: str, expected_documents_in: int | None = None) -> None:
        """Raise AccountingError when documents or inputs do not add up.

        `expected_documents_in` is counted independently of the stage's work (rows in the
        input shards, records seen by a scan): a document that a step skipped without a word
        shows up as a difference here.
        """
        problems = []
        if expected_documents_in is not None and expected_documents_in != self.documents_in:
            problems.append(f"inputs hold {expected_documents_in} documents but documents_in={self.documents_in}")
        if self.documents_in != self.documents_out + self.ledgered + self.record_errors:
            problems.append(
                f"documents_in={self.documents_in} != documents_out={self.documents_out}"
                f" + ledgered={self.ledgered} + record_errors={self.record_errors}"
            )
        if self.inputs != self.inputs_parsed + self.input_errors:
            problems.append(f"inputs={self.inputs} != inputs_parsed={self.inputs_parsed} + input_errors={self.input_errors}")
        if sum(self.reasons.values()) != self.ledgered:
            problems.append(f"ledger reasons sum to {sum(self.reasons.values())}, ledgered={self.ledgered}")
        if problems:
            raise AccountingError(f"stage {stage!r}: " + "; ".join(problems))
