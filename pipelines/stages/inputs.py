"""Expanding the INPUT... arguments of a command into a sorted list of files, and reading the
document shards they name without trusting them."""
from __future__ import annotations

import os
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Iterable, Iterator

if TYPE_CHECKING:
    from curation.shards import RowGroup
    from curation.task_output import TaskOutput


class NoInputsError(ValueError):
    pass


def expand_inputs(inputs: Iterable[Path | str], accept: Callable[[Path], bool]) -> list[Path]:
    """Files given directly, plus accepted files found (recursively) under given folders.

    A named path that does not exist is an error: a typo must not become an empty corpus. So is
    a URL: raw stores are local (docs/cluster.md), and a parse reads each file through one local
    handle (sources/snapshot.py), which is what keeps its hash and its parse on the same bytes.
    """
    from curation import storage

    found: set[Path] = set()
    for raw in inputs:
        if not storage.is_local(raw):
            raise NoInputsError(f"input {raw}: a parse reads raw files from a local path, not a URL (docs/cluster.md)")
        path = Path(storage.local_path(raw))
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


def stage_folders(inputs: Iterable[str | os.PathLike]) -> list[str]:
    """The stage folders (or shard files) named by INPUT arguments, in the order given: plain
    paths or URLs (curation.storage).

    A folder that holds no shards of its own but stage folders (each with its stats.json), such as
    data/parsed/guidelines/<site>, stands for each of them, sorted by name: adding a site changes
    no command line.
    """
    from curation import storage

    found: list[str] = []
    for raw in inputs:
        path = storage.norm(raw)
        if storage.isfile(path):
            found.append(path)
            continue
        if not storage.isdir(path):
            raise NoInputsError(f"input not found: {path}")
        nested = [] if storage.files(path, "*.parquet") else [
            p for p in storage.folders(path) if storage.isfile(storage.join(p, "stats.json"))]
        found.extend(nested or [path])
    return found


def stage_shards(inputs: Iterable[str | os.PathLike]) -> list[str]:
    """Document shards of earlier stages: the shards a completed stage folder's task markers name
    (curation.task_output.complete_shards; not ledgers, errors or splits), or shard files given
    by name."""
    from curation import storage
    from curation.task_output import complete_shards

    shards: set[str] = set()
    for path in stage_folders(inputs):
        if path.endswith(".parquet"):
            shards.add(path)
        elif storage.isfile(path):
            raise NoInputsError(f"not a stage folder or a shard: {path}")
        else:
            shards.update(complete_shards(path))
    return sorted(shards)


@contextmanager
def unchanged(shards: Iterable[str], identities: Iterable[list], stage: str) -> Iterator[None]:
    """Around a pass's reading of input shards, in a stage whose passes each read them (dedup's
    keys and apply, mix's counts and writes): each shard must be the file the stage planned on
    (`identities`, curation.storage.identity then) when the reading starts and when it ends. One
    that an upstream run replaced meanwhile makes the plan wrong for every shard, so the stage
    stops with RuntimeError instead of writing a mix of the two versions."""
    pairs = list(zip(shards, identities))
    _check_unchanged(pairs, stage)
    yield
    _check_unchanged(pairs, stage)


def _check_unchanged(pairs: list[tuple[str, list]], stage: str) -> None:
    from curation import storage

    for shard, identity in pairs:
        try:
            now = storage.identity(shard)
        except FileNotFoundError:
            now = None  # gone: changed as much as a file can
        if now != identity:
            raise RuntimeError(
                f"{shard}: changed while {stage} ran (size and modified time, or ETag: {identity} when planned, {now} now); "
                f"run {stage} again once the stage that writes its input has finished"
            )


def shard_rows(shards: Iterable[str]) -> int:
    """Rows in the given shards, from their footers: the documents a stage must account for, as
    documents in or as unread rows of a shard in the error ledger. A shard whose footer cannot be
    read declares none (its task puts it in the error ledger)."""
    from curation.shards import declared_rows

    return sum(declared_rows(s) for s in shards)


def document_row_groups(shard: str, output: "TaskOutput") -> Iterator["RowGroup"]:
    """The readable row groups of an input shard of documents, in order (every document column,
    nulls left for the caller to judge: curation.shards.null_reasons). Once the last is taken,
    the shard is accounted: parsed; or in the error ledger with one line, when its footer or its
    schema rules it out (no row read) or when some row groups cannot be decoded (the others are
    read), the rows it could not read counted as `documents_unread`."""
    from curation.schema import DOCUMENT_SCHEMA
    from curation.shards import UnreadableShard, declared_rows, open_shard, read_row_groups, unreadable_groups_error

    try:
        parquet = open_shard(shard, DOCUMENT_SCHEMA)
    except UnreadableShard as error:
        output.input_failed(shard, str(error))
        output.counts.documents_unread += declared_rows(shard)
        return
    lost = []
    for group in read_row_groups(parquet, DOCUMENT_SCHEMA):
        if group.error is None:
            yield group
        else:
            lost.append(group)
    if lost:
        output.input_failed(shard, unreadable_groups_error(lost, parquet.num_row_groups))
        output.counts.documents_unread += sum(g.num_rows for g in lost)
    else:
        output.input_parsed()
