"""A raw store's tombstones, `articles/removed.jsonl`: the article versions a sync took out, and why.

Written by the sync (sync.py), read by `pmc parse`, which puts each one in its ledger. Its own module
so that the parse stage reads the format without importing the sync and its HTTP client.

One JSON object a line, keys sorted, sorted by PMC number and version: `pmcid`, `version`, `reason`
(`gone_from_bucket`, `superseded_by:PMC<n>.<v>`, …) and what the sync knew of the removed version.
"""
from __future__ import annotations

import heapq
import json
from pathlib import Path
from typing import BinaryIO, Callable, Iterable, Iterator

from curation import storage
from sources.errors import InputError
from sources.pmc.ids import bounded_int, normalize_pmcid
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


def iter_tombstones(source: Path | str | BinaryIO, name: str | None = None) -> Iterator[tuple[int, dict]]:
    """(line number, tombstone) of a removed.jsonl read line by line, from its path or from a
    binary handle at its start (`name` names it in errors): memory stays that of one line however
    many versions the store has removed over the years. InputError for a line longer than
    MAX_LINE_BYTES or that is no tombstone."""
    if isinstance(source, (str, Path)):
        with open(source, "rb") as handle:
            yield from iter_tombstones(handle, str(source))
        return
    name = name or getattr(source, "name", "<tombstones>")
    for number, line in enumerate(iter(lambda: source.readline(MAX_LINE_BYTES + 1), b""), 1):
        if len(line) > MAX_LINE_BYTES:
            raise InputError(f"{name}:{number}: line longer than {MAX_LINE_BYTES} bytes")
        if line.strip():
            yield number, parse_tombstone(line, name, number)


def order(stone: dict) -> tuple[int, int]:
    """Where a tombstone goes in the file: by PMC number, then version."""
    return int(stone["pmcid"][3:]), stone["version"]


def check_tombstones(root: Path) -> None:
    """Read the store's tombstones through (InputError: a damaged line, or lines out of order),
    before a sync takes anything out of the store that `update_tombstones` would then record."""
    path = root / TOMBSTONES
    if not path.is_file():
        return
    previous = None
    for number, stone in iter_tombstones(path):
        if previous is not None and order(stone) <= previous:
            raise InputError(f"{path}:{number}: tombstones out of order (the sync writes them sorted by PMCID and version)")
        previous = order(stone)


def update_tombstones(root: Path, new: Iterable[dict], still_removed: Callable[[dict], bool]) -> None:
    """Merge this sync's tombstones into the file, line by line: its lines and `new` in order (a
    new one replaces the file's of the same version), keeping those `still_removed` accepts (a
    version stored again has none). Memory: `new` and one line, however long the file has grown.
    Written whole or not at all, and even when empty (a sync that removed nothing)."""
    path = root / TOMBSTONES
    fresh = sorted(new, key=order)
    replaced = {order(stone) for stone in fresh}
    kept = (stone for _, stone in iter_tombstones(path) if order(stone) not in replaced) if path.is_file() else iter(())
    with storage.open_write(path) as handle:
        for stone in heapq.merge(kept, fresh, key=order):
            if still_removed(stone):
                handle.write((json.dumps(stone, sort_keys=True) + "\n").encode("utf-8"))
