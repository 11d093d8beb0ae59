"""Token budgets: how many tokens each bucket of the mix should contribute, and which whole
documents (and how many copies of each) meet that budget.

A bucket is a source (`replay/reuters`) when the budgets name it, else its subset (`abstracts`).
A budget is one of
- `natural`: every document once (MEDITRON's mixture was natural proportions throughout);
- `{tokens: N}`: N tokens;
- `{factor: f}`: f times the bucket's own tokens (f > 1 upsamples, f < 1 downsamples);
- `{share: s}`: s of the total tokens of the mix (MEDITRON's replay: about 1%).
Shares are of the total *including* the shared buckets, so with fixed tokens F and shares
summing to S the total is F / (1 - S).

Sampling is deterministic from a seed and never cuts a document: the budget is met with
`floor(target / pool)` full passes plus a remainder filled by documents in a seeded order,
skipping any that would overshoot, so the result lands within one short document of the target.
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any, Hashable, Mapping, Sequence

KINDS = ("natural", "tokens", "factor", "share")


@dataclass(frozen=True)
class Budget:
    kind: str
    value: float = 1.0

    @classmethod
    def parse(cls, spec: Any) -> "Budget":
        if spec in (None, "natural"):
            return cls("natural")
        if isinstance(spec, Mapping) and len(spec) == 1:
            (kind, value), = spec.items()
            if kind in KINDS[1:] and isinstance(value, (int, float)) and value >= 0:
                if kind == "share" and value >= 1:
                    raise ValueError(f"a share must be below 1, not {value}")
                return cls(kind, float(value))
        raise ValueError(f"a budget is 'natural', {{tokens: N}}, {{factor: f}} or {{share: s}}; not {spec!r}")

    def to_dict(self) -> dict | str:
        return "natural" if self.kind == "natural" else {self.kind: self.value}


def bucket_of(source: str, subset: str, budgets: Mapping[str, Budget]) -> str:
    return source if source in budgets else subset


def resolve_targets(pools: Mapping[str, int], budgets: Mapping[str, Budget]) -> dict[str, float]:
    """Target tokens per bucket, from each bucket's pool of tokens and its budget (natural if none)."""
    fixed: dict[str, float] = {}
    shares: dict[str, float] = {}
    for bucket, pool in pools.items():
        budget = budgets.get(bucket, Budget("natural"))
        if budget.kind == "share":
            shares[bucket] = budget.value
        elif budget.kind == "tokens":
            fixed[bucket] = budget.value
        elif budget.kind == "factor":
            fixed[bucket] = budget.value * pool
        else:
            fixed[bucket] = float(pool)
    total_share = sum(shares.values())
    if total_share >= 1:
        raise ValueError(f"budget shares sum to {total_share}; they must stay below 1")
    if shares and not sum(fixed.values()):
        raise ValueError(f"buckets {sorted(shares)} take a share of a mix that has no other tokens")
    total = sum(fixed.values()) / (1 - total_share)
    return {**fixed, **{bucket: share * total for bucket, share in shares.items()}}


def order_key(seed: int, doc_id: str, tag: str = "") -> bytes:
    """A seeded pseudo-random sort key that depends on nothing but the seed and the id."""
    return hashlib.blake2b(f"{seed}\x00{tag}\x00{doc_id}".encode("utf-8"), digest_size=8).digest()


def sample_to_budget(docs: Sequence[tuple[Hashable, str, int]], target: float, seed: int) -> dict[Hashable, int]:
    """Copies per document (key -> n >= 0) whose tokens add up to `target` as closely as whole documents allow.

    `docs` are (key, id, tokens). Full passes first (every document the same number of times),
    then the remainder from a seeded order, so a downsample is a seeded random subset and an
    upsample repeats every document before any gets an extra copy.
    """
    pool = sum(tokens for _, _, tokens in docs)
    if pool <= 0 or target <= 0:
        return {key: 0 for key, _, _ in docs}
    passes = int(target // pool)
    remainder = target - passes * pool
    copies = {key: passes for key, _, _ in docs}
    taken = 0
    smallest_skipped: tuple[int, Hashable] | None = None
    for key, doc_id, tokens in sorted(docs, key=lambda d: (order_key(seed, d[1]), d[1], str(d[0]))):
        if taken + tokens <= remainder:
            copies[key] += 1
            taken += tokens
        elif smallest_skipped is None or tokens < smallest_skipped[0]:
            smallest_skipped = (tokens, key)
    # One overshooting document may still land closer than stopping short.
    if smallest_skipped is not None and taken + smallest_skipped[0] - remainder < remainder - taken:
        copies[smallest_skipped[1]] += 1
    return copies
