"""A raw store's tombstones, `articles/removed.jsonl`: the article versions a sync took out, and why.

Written by the sync (sync.py), read by `pmc parse`, which puts each one in its ledger. Its own module
so that the parse stage reads the format without importing the sync and its HTTP client.

One JSON object a line, keys sorted, sorted by PMC number and version: `pmcid`, `version`, `reason`
(`gone_from_bucket`, `superseded_by:PMC<n>.<v>`, …) and what the sync knew of the removed version.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Iterable, Iterator

from sources.errors import InputError
from sources.pmc.ids import bounded_int, normalize_pmcid
from sources.raw_store import write_atomic
from sources.safe_json import load_object

TOMBSTONES = "articles/removed.jsonl"  # next to the articles: `pmc parse` and DVC read one folder


MAX_LINE_BYTES = 1 << 16  # one tombstone is a few hundred bytes


def parse_tombstone(line: bytes, name: str, number: int) -> dict:
    """The tombstone on line `number` of file `name`; InputError naming the line for anything else."""
    try:
        stone = load_object(line, f"{name}:{number}")
        stone["version"] = bounded_int(stone["version"], "version")
        if normalize_pmcid(stone["pmcid"]) != stone["pmcid"] or not isinstance(stone["reason"], str):
            raise ValueError(f"pmcid {stone['pmcid']!r}, reason {stone['reason']!r}")
    except (InputError, ValueError, KeyError, TypeError) as exc:
        raise InputError(f"{name}:{number}: not a tombstone ({type(exc).__name__}: {exc})") from None
    return stone


def iter_tombstones(path: Path | str) -> Iterator[tuple[int, dict]]:
    """(line number, tombstone) of a removed.jsonl read line by line: memory stays that of one
    line however many versions the store has removed over the years. InputError for a line
    longer than MAX_LINE_BYTES or that is no tombstone."""
    name = str(path)
    with open(path, "rb") as handle:
        for number, line in enumerate(iter(lambda: handle.readline(MAX_LINE_BYTES + 1), b""), 1):
            if len(line) > MAX_LINE_BYTES:
                raise InputError(f"{name}:{number}: line longer than {MAX_LINE_BYTES} bytes")
            if line.strip():
                yield number, parse_tombstone(line, name, number)


def read_tombstones(root: Path) -> list[dict]:
    path = root / TOMBSTONES
    return [stone for _, stone in iter_tombstones(path)] if path.is_file() else []


def write_tombstones(root: Path, tombstones: Iterable[dict]) -> None:
    """The tombstones sorted by PMCID and version; written even when empty (a sync that removed nothing)."""
    ordered = sorted(tombstones, key=lambda t: (int(t["pmcid"][3:]), t["version"]))
    text = "".join(json.dumps(t, sort_keys=True) + "\n" for t in ordered)
    path = root / TOMBSTONES
    if not path.is_file() or path.read_text(encoding="utf-8") != text:
        write_atomic(path, text.encode("utf-8"))
