"""Parquet shard I/O: size-targeted zstd shards with deterministic names, written atomically.

A shard is written under a temporary name in its final folder and renamed when complete, so a
reader never sees half a file and an interrupted writer leaves only `*.tmp` debris that the
next run removes.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Iterable, Iterator

import pyarrow as pa
import pyarrow.parquet as pq

DEFAULT_SHARD_BYTES = 64 * 1024 * 1024
DEFAULT_ROW_GROUP_ROWS = 1024
TMP_SUFFIX = ".tmp"


def shard_name(task: int, seq: int) -> str:
    """Shard names are fixed by the task's index and the shard's order within the task."""
    return f"part-{task:05d}-{seq:04d}.parquet"


def task_glob(task: int) -> str:
    return f"part-{task:05d}-*"


def write_table_atomic(table: pa.Table, path: Path, row_group_rows: int = DEFAULT_ROW_GROUP_ROWS) -> None:
    """Write a Parquet file under a temporary name, fsync it, then rename it into place."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + TMP_SUFFIX)
    pq.write_table(
        table,
        tmp,
        compression="zstd",
        row_group_size=row_group_rows,
        # Statistics on the long text column only bloat the footer.
        write_statistics=["id", "source", "subset", "pmid", "pmcid", "doi", "stage", "reason", "input"],
    )
    with open(tmp, "rb+") as handle:
        os.fsync(handle.fileno())
    os.replace(tmp, path)


def _row_bytes(row: dict) -> int:
    return sum(len(v) for v in row.values() if isinstance(v, str)) + 8 * len(row)


class ShardWriter:
    """Buffers rows and writes a shard each time the buffer reaches `target_bytes` of text."""

    def __init__(
        self,
        folder: Path,
        task: int,
        schema: pa.Schema,
        target_bytes: int = DEFAULT_SHARD_BYTES,
        row_group_rows: int = DEFAULT_ROW_GROUP_ROWS,
    ):
        self.folder = Path(folder)
        self.task = task
        self.schema = schema
        self.target_bytes = target_bytes
        self.row_group_rows = row_group_rows
        self.rows: list[dict] = []
        self.buffered = 0
        self.seq = 0
        self.written: list[Path] = []
        self.count = 0

    def write(self, row: dict) -> None:
        self.rows.append(row)
        self.count += 1
        self.buffered += _row_bytes(row)
        if self.buffered >= self.target_bytes:
            self.flush()

    def flush(self) -> None:
        if not self.rows:
            return
        table = pa.Table.from_pylist(self.rows, schema=self.schema)
        path = self.folder / shard_name(self.task, self.seq)
        write_table_atomic(table, path, self.row_group_rows)
        self.written.append(path)
        self.seq += 1
        self.rows = []
        self.buffered = 0

    def close(self) -> list[Path]:
        self.flush()
        return self.written


def list_shards(folder: Path | str) -> list[Path]:
    """The complete shards of a folder, in name order (temporary files are never listed)."""
    folder = Path(folder)
    if not folder.is_dir():
        return []
    return sorted(p for p in folder.glob("*.parquet") if p.is_file())


def list_shards_many(folders: Iterable[Path | str]) -> list[Path]:
    shards: list[Path] = []
    for folder in folders:
        folder = Path(folder)
        if folder.is_file() and folder.suffix == ".parquet":
            shards.append(folder)
        else:
            shards.extend(list_shards(folder))
    return shards


def read_table(paths: Iterable[Path | str], schema: pa.Schema, columns: list[str] | None = None) -> pa.Table:
    """Read shards into one table that has exactly `schema` (or its `columns`)."""
    tables = [pq.read_table(p, schema=schema, columns=columns) for p in paths]
    if not tables:
        fields = [schema.field(c) for c in columns] if columns else list(schema)
        return pa.Table.from_pylist([], schema=pa.schema(fields))
    return pa.concat_tables(tables)


def iter_rows(path: Path | str, schema: pa.Schema, columns: list[str] | None = None) -> Iterator[dict]:
    """Stream one shard's rows as dicts, a row group at a time (bounded memory)."""
    parquet = pq.ParquetFile(path)
    for group in range(parquet.num_row_groups):
        table = parquet.read_row_group(group, columns=columns).cast(
            pa.schema([schema.field(c) for c in (columns or schema.names)])
        )
        yield from table.to_pylist()


def remove_task_files(folder: Path, task: int) -> None:
    """Remove what an interrupted run of `task` left behind, complete shards and temporaries."""
    if not folder.is_dir():
        return
    for path in folder.glob(task_glob(task)):
        path.unlink()
