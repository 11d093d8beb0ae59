"""Expanding the INPUT... arguments of a command into a sorted list of files."""
from __future__ import annotations

from pathlib import Path
from typing import Callable, Iterable


class NoInputsError(ValueError):
    pass


def expand_inputs(inputs: Iterable[Path | str], accept: Callable[[Path], bool]) -> list[Path]:
    """Files given directly, plus accepted files found (recursively) under given folders.

    A named path that does not exist is an error: a typo must not become an empty corpus.
    """
    found: set[Path] = set()
    for raw in inputs:
        path = Path(raw)
        if path.is_dir():
            found.update(p for p in path.rglob("*") if p.is_file() and accept(p) and not _hidden(p, path))
        elif path.is_file():
            found.add(path)
        else:
            raise NoInputsError(f"input not found: {path}")
    return sorted(found)


def _hidden(path: Path, root: Path) -> bool:
    # Skip bookkeeping folders (_tasks, .part downloads) inside stage or raw folders.
    return any(part.startswith(("_", ".")) for part in path.relative_to(root).parts)


def stage_shards(inputs: Iterable[Path | str]) -> list[Path]:
    """Document shards of earlier stages: DIR/*.parquet (not ledgers, errors or splits)."""
    shards: set[Path] = set()
    for raw in inputs:
        path = Path(raw)
        if path.is_file() and path.suffix == ".parquet":
            shards.add(path)
        elif path.is_dir():
            shards.update(p for p in path.glob("*.parquet") if p.is_file())
        else:
            raise NoInputsError(f"input not found: {path}")
    return sorted(shards)


def shard_rows(shards: Iterable[Path | str]) -> int:
    """Rows in the given shards, from their footers: the documents a stage must account for."""
    import pyarrow.parquet as pq

    return sum(pq.ParquetFile(s).metadata.num_rows for s in shards)
