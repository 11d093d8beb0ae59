"""Exact dedup on normalised text, then identifier dedup on PMID.

Input: narrow rows {key, id, subset, date, text_hash, pmid}, where `key` names one row
(shard and position: the same id may occur twice). Output: the drop plan
{key: (reason, detail)} with reasons `exact_duplicate_of:<survivor id>` and
`pmid_duplicate_of:<survivor id>`.
"""
from __future__ import annotations

from collections import defaultdict
from typing import Iterable

from curation.dedup.survivor import choose_survivor


def _group_drops(rows: Iterable[dict], key: str, reason: str, plan: dict) -> None:
    groups: dict[str, list[dict]] = defaultdict(list)
    for row in rows:
        if row.get(key) and row["key"] not in plan:
            groups[row[key]].append(row)
    for value, members in groups.items():
        if len(members) < 2:
            continue
        keep = choose_survivor(members)
        for row in members:
            if row is not keep:
                plan[row["key"]] = (f"{reason}:{keep['id']}", f"{key}={value}")


def plan_exact_drops(rows: list[dict]) -> dict[str, tuple[str, str]]:
    plan: dict[str, tuple[str, str]] = {}
    _group_drops(rows, "text_hash", "exact_duplicate_of", plan)
    _group_drops(rows, "pmid", "pmid_duplicate_of", plan)
    return plan
