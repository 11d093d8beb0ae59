"""Which copy of a duplicate survives: a documented, deterministic priority.

Full text beats an abstract, an abstract beats a guideline, a guideline beats replay text; among
equals the newest publication date wins, then the lowest id.
"""
from __future__ import annotations

SUBSET_RANK = {"papers": 0, "abstracts": 1, "guidelines": 2, "replay": 3}


def _date_rank(date: str | None) -> str:
    # ISO dates sort as strings; inverting each digit makes newer dates sort first.
    if not date:
        return "~"
    return "".join(chr(ord("9") - ord(c) + ord("0")) if c.isdigit() else c for c in date)


def survivor_key(row: dict) -> tuple:
    # `key` (shard and position) breaks the tie between two rows that share an id.
    return (SUBSET_RANK.get(row.get("subset"), len(SUBSET_RANK)), _date_rank(row.get("date")), row["id"], row.get("key", ""))


def choose_survivor(rows: list[dict]) -> dict:
    return min(rows, key=survivor_key)
