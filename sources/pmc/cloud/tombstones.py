"""A raw store's tombstones, `articles/removed.jsonl`: the article versions a sync took out, and why.

Written by the sync (sync.py), read by `pmc parse`, which puts each one in its ledger. Its own module
so that the parse stage reads the format without importing the sync and its HTTP client.

One JSON object a line, keys sorted, sorted by PMC number and version: `pmcid`, `version`, `reason`
(`gone_from_bucket`, `superseded_by:PMC<n>.<v>`, …) and what the sync knew of the removed version.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Iterable

from sources.errors import InputError
from sources.pmc.ids import bounded_int, normalize_pmcid
from sources.raw_store import write_atomic
from sources.safe_json import load_object

TOMBSTONES = "articles/removed.jsonl"  # next to the articles: `pmc parse` and DVC read one folder


def parse_tombstones(data: bytes, name: str) -> list[tuple[int, dict]]:
    """(line number, tombstone) of a removed.jsonl; InputError naming the line for anything else."""
    stones = []
    for number, line in enumerate(data.decode("utf-8", errors="replace").splitlines(), 1):
        if not line.strip():
            continue
        try:
            stone = load_object(line.encode("utf-8"), f"{name}:{number}")
            stone["version"] = bounded_int(stone["version"], "version")
            if normalize_pmcid(stone["pmcid"]) != stone["pmcid"] or not isinstance(stone["reason"], str):
                raise ValueError(f"pmcid {stone['pmcid']!r}, reason {stone['reason']!r}")
        except (InputError, ValueError, KeyError, TypeError) as exc:
            raise InputError(f"{name}:{number}: not a tombstone ({type(exc).__name__}: {exc})") from None
        stones.append((number, stone))
    return stones


def read_tombstones(root: Path) -> list[dict]:
    path = root / TOMBSTONES
    return [stone for _, stone in parse_tombstones(path.read_bytes(), str(path))] if path.is_file() else []


def write_tombstones(root: Path, tombstones: Iterable[dict]) -> None:
    """The tombstones sorted by PMCID and version; written even when empty (a sync that removed nothing)."""
    ordered = sorted(tombstones, key=lambda t: (int(t["pmcid"][3:]), t["version"]))
    text = "".join(json.dumps(t, sort_keys=True) + "\n" for t in ordered)
    path = root / TOMBSTONES
    if not path.is_file() or path.read_text(encoding="utf-8") != text:
        write_atomic(path, text.encode("utf-8"))
