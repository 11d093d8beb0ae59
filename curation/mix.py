"""The mixture plan: split, budgets, copies, shuffled order and shard boundaries, from narrow rows.

Input is one `MixDoc` per document (no text: the plan never holds documents). Steps:
1. split every document by a hash of its id (curation/split.py), with a share per subset;
2. train documents are grouped in budget buckets (curation/budget.py) and given a number of
   copies (0 = left out of the mix); validation documents are kept once each, never resampled,
   so validation measures the natural distribution of each subset;
3. the rows of each split (a row is one copy of one document) are put in a seeded pseudo-random
   order and cut into shards of about `shard_bytes` of uncompressed text.
Every step depends only on ids, counts and the seed, never on input order or worker count.
"""
from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from typing import Mapping, Sequence

from curation.budget import Budget, bucket_of, order_key, resolve_targets, sample_to_budget
from curation.split import assign_split

SPLITS = ("train", "validation")


@dataclass(frozen=True)
class MixDoc:
    key: tuple[int, int]  # (input shard index, row position): where to read the document back
    id: str
    source: str
    subset: str
    tokens: int
    bytes: int


@dataclass
class MixPlan:
    split: dict[tuple[int, int], str] = field(default_factory=dict)
    copies: dict[tuple[int, int], int] = field(default_factory=dict)
    pools: dict[str, int] = field(default_factory=dict)  # train tokens per bucket before sampling
    targets: dict[str, float] = field(default_factory=dict)
    shards: dict[str, list[list[tuple[int, int]]]] = field(default_factory=dict)  # split -> shards -> row keys


def plan_mix(
    docs: Sequence[MixDoc],
    budgets: Mapping[str, Budget],
    validation_share: Mapping[str, float],
    salt: str,
    seed: int,
    shard_bytes: int,
) -> MixPlan:
    plan = MixPlan()
    by_bucket: dict[str, list[MixDoc]] = defaultdict(list)
    for doc in docs:
        split = assign_split(doc.id, float(validation_share.get(doc.subset, 0.0)), salt)
        plan.split[doc.key] = split
        if split == "train":
            by_bucket[bucket_of(doc.source, doc.subset, budgets)].append(doc)
        else:
            plan.copies[doc.key] = 1
    plan.pools = {bucket: sum(d.tokens for d in members) for bucket, members in sorted(by_bucket.items())}
    plan.targets = resolve_targets(plan.pools, budgets)
    for bucket, members in sorted(by_bucket.items()):
        plan.copies.update(sample_to_budget([(d.key, d.id, d.tokens) for d in members], plan.targets[bucket], seed))
    size = {doc.key: doc.bytes for doc in docs}
    ids = {doc.key: doc.id for doc in docs}
    for split in SPLITS:
        rows = [(key, copy) for key, n in plan.copies.items() if plan.split[key] == split for copy in range(n)]
        rows.sort(key=lambda row: (order_key(seed, ids[row[0]], f"{split}/{row[1]}"), row))
        plan.shards[split] = cut_shards([key for key, _ in rows], size, shard_bytes)
    return plan


def cut_shards(keys: Sequence[tuple[int, int]], size: Mapping[tuple[int, int], int], shard_bytes: int) -> list[list[tuple[int, int]]]:
    """Consecutive runs of rows of about `shard_bytes` each (a shard closes once it reaches it)."""
    shards: list[list[tuple[int, int]]] = []
    current: list[tuple[int, int]] = []
    filled = 0
    for key in keys:
        current.append(key)
        filled += size[key]
        if filled >= shard_bytes:
            shards.append(current)
            current, filled = [], 0
    if current:
        shards.append(current)
    return shards


def manifest(docs: Sequence[MixDoc], plan: MixPlan, budgets: Mapping[str, Budget]) -> dict:
    """Documents and tokens per source and split (MEDITRON's Table 1), plus each budget and what it got."""
    sources: dict = defaultdict(lambda: {s: {"documents": 0, "unique_documents": 0, "tokens": 0} for s in SPLITS})
    achieved: dict[str, int] = defaultdict(int)
    subset_of: dict[str, str] = {}
    for doc in docs:
        n = plan.copies.get(doc.key, 0)
        split = plan.split[doc.key]
        cell = sources[doc.source][split]
        subset_of[doc.source] = doc.subset
        cell["documents"] += n
        cell["unique_documents"] += 1 if n else 0
        cell["tokens"] += n * doc.tokens
        if split == "train":
            achieved[bucket_of(doc.source, doc.subset, budgets)] += n * doc.tokens
    totals = {s: {k: sum(sources[src][s][k] for src in sources) for k in ("documents", "unique_documents", "tokens")} for s in SPLITS}
    train_total = totals["train"]["tokens"] or 1
    buckets = {
        bucket: {
            "budget": budgets.get(bucket, Budget("natural")).to_dict(),
            "pool_tokens": plan.pools[bucket],
            "target_tokens": round(plan.targets[bucket], 1),
            "train_tokens": achieved[bucket],
            "share_of_train_tokens": achieved[bucket] / train_total,
            "error": (achieved[bucket] - plan.targets[bucket]) / plan.targets[bucket] if plan.targets[bucket] else 0.0,
        }
        for bucket in plan.pools
    }
    return {
        "sources": {src: {"subset": subset_of[src], **sources[src]} for src in sorted(sources)},
        "totals": totals,
        "buckets": buckets,
        "shards": {split: len(plan.shards[split]) for split in SPLITS},
    }
