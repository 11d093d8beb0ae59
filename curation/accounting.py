"""Counting what goes in and out of a stage, and the invariant that nothing disappears.

For every stage:
    documents_in = documents_out + ledgered + record_errors
    inputs       = inputs_parsed + input_errors
A record that could not be read is an error-ledger row naming the record; an input (file, URL)
that could not be read is an error-ledger row without one. Rows that an input declares but that
could not be read at all (a shard with a corrupt page or a foreign schema: its Parquet footer
counts them) are `documents_unread`: never documents in, but counted, so that rows declared =
documents_in + documents_unread still checks that nothing was skipped without a word.
"""
from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field


_NUMBERS = ("documents_in", "documents_out", "ledgered", "record_errors", "inputs", "inputs_parsed", "input_errors", "documents_unread")


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
    documents_unread: int = 0
    reasons: Counter = field(default_factory=Counter)
    by_source: Counter = field(default_factory=Counter)
    by_split: Counter = field(default_factory=Counter)

    def add(self, other: "Counts") -> "Counts":
        for name in _NUMBERS:
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
            "documents_unread": self.documents_unread,
            "reasons": dict(sorted(self.reasons.items())),
            "documents_out_by_source": dict(sorted(self.by_source.items())),
            "documents_out_by_split": dict(sorted(self.by_split.items())),
        }

    @classmethod
    def from_dict(cls, data: dict) -> "Counts":
        # Markers written before `documents_unread` existed lack it: none were unread then.
        counts = cls(**{k: data[k] for k in _NUMBERS if k != "documents_unread"}, documents_unread=data.get("documents_unread", 0))
        counts.reasons = Counter(data.get("reasons", {}))
        counts.by_source = Counter(data.get("documents_out_by_source", {}))
        counts.by_split = Counter(data.get("documents_out_by_split", {}))
        return counts

    def check(self, stage: str, expected_documents_in: int | None = None) -> None:
        """Raise AccountingError when documents or inputs do not add up.

        `expected_documents_in` is counted independently of the stage's work (rows in the
        input shards, records seen by a scan): a document that a step skipped without a word
        shows up as a difference here. Rows of inputs that could not be read are not documents
        in; they are `documents_unread`, and the input is in the error ledger.
        """
        problems = []
        if expected_documents_in is not None and expected_documents_in != self.documents_in + self.documents_unread:
            unread = f" + documents_unread={self.documents_unread}" if self.documents_unread else ""
            problems.append(f"inputs hold {expected_documents_in} documents but documents_in={self.documents_in}{unread}")
        if self.documents_in != self.documents_out + self.ledgered + self.record_errors:
            problems.append(
                f"documents_in={self.documents_in} != documents_out={self.documents_out}"
                f" + ledgered={self.ledgered} + record_errors={self.record_errors}"
            )
        if self.documents_unread and not self.input_errors:
            problems.append(f"documents_unread={self.documents_unread} but no input is in the error ledger")
        if self.inputs != self.inputs_parsed + self.input_errors:
            problems.append(f"inputs={self.inputs} != inputs_parsed={self.inputs_parsed} + input_errors={self.input_errors}")
        if sum(self.reasons.values()) != self.ledgered:
            problems.append(f"ledger reasons sum to {sum(self.reasons.values())}, ledgered={self.ledgered}")
        if problems:
            raise AccountingError(f"stage {stage!r}: " + "; ".join(problems))
