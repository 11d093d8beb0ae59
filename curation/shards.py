"""Parquet shard I/O: size-targeted zstd shards with deterministic names, written whole.

Folders and shards are locations of curation.storage: plain paths or URLs (s3://…). A shard is
written through `storage.write_parquet`: on local disk under a temporary name and renamed when
complete (an interrupted writer leaves only `*.tmp` debris that the next run removes); on an
object store to its final name, where the upload becomes visible only once complete. Which shards
of a stage folder belong to finished tasks is said by the task markers (curation.task_output):
readers of stage folders go by those, never by a listing alone.

Stages read their input shards as untrusted (`open_shard`, `read_row_groups`): a shard whose
footer cannot be read or whose schema is not the document schema is refused as a whole with a
one-line reason; a row group whose pages cannot be decoded, or decode to a string that is not
UTF-8 (Parquet readers do not check), is reported and the others are read;
a row with a null in a required column is named (`null_reasons`) for the stage to ledger.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Iterable, Iterator

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from curation import storage

DEFAULT_SHARD_BYTES = 64 * 1024 * 1024
DEFAULT_ROW_GROUP_ROWS = 1024


def shard_name(task: int, seq: int) -> str:
    """Shard names are fixed by the task's index and the shard's order within the task."""
    return f"part-{task:05d}-{seq:04d}.parquet"


def task_glob(task: int) -> str:
    return f"part-{task:05d}-*"


def write_table_atomic(table: pa.Table, path: str | os.PathLike, row_group_rows: int = DEFAULT_ROW_GROUP_ROWS) -> None:
    """Write a Parquet shard that readers see whole or not at all (curation.storage)."""
    storage.write_parquet(
        table,
        path,
        compression="zstd",
        row_group_size=row_group_rows,
        # Statistics on the long text column only bloat the footer.
        write_statistics=["id", "source", "subset", "pmid", "pmcid", "doi", "stage", "reason", "input"],
    )


def _row_bytes(row: dict) -> int:
    return sum(len(v) for v in row.values() if isinstance(v, str)) + 8 * len(row)


class ShardWriter:
    """Buffers rows and writes a shard each time the buffer reaches `target_bytes` of text.

    Rows become an Arrow record batch as soon as a row group's worth is buffered: Arrow holds
    them in less memory than Python dicts, and a parser that keeps tens of thousands of dicts
    alive beside its own work runs measurably slower (benchmarks/README.md, PubMed)."""

    def __init__(
        self,
        folder: str | os.PathLike,
        task: int,
        schema: pa.Schema,
        target_bytes: int = DEFAULT_SHARD_BYTES,
        row_group_rows: int = DEFAULT_ROW_GROUP_ROWS,
    ):
        self.folder = storage.norm(folder)
        self.task = task
        self.schema = schema
        self.target_bytes = target_bytes
        self.row_group_rows = row_group_rows
        self.rows: list[dict] = []  # not yet in a batch
        self.batches: list[pa.RecordBatch] = []
        self.buffered = 0
        self.seq = 0
        self.written: list[str] = []
        self.count = 0

    def write(self, row: dict) -> None:
        self.rows.append(row)
        self.count += 1
        self.buffered += _row_bytes(row)
        if len(self.rows) >= self.row_group_rows:
            self._to_batch()
        if self.buffered >= self.target_bytes:
            self.flush()

    def _to_batch(self) -> None:
        self.batches.append(pa.RecordBatch.from_pylist(self.rows, schema=self.schema))
        self.rows = []

    def flush(self) -> None:
        if self.rows:
            self._to_batch()
        if not self.batches:
            return
        table = pa.Table.from_batches(self.batches, schema=self.schema)
        path = storage.join(self.folder, shard_name(self.task, self.seq))
        write_table_atomic(table, path, self.row_group_rows)
        self.written.append(path)
        self.seq += 1
        self.batches = []
        self.buffered = 0

    def close(self) -> list[str]:
        self.flush()
        return self.written


def list_shards(folder: str | os.PathLike) -> list[str]:
    """The Parquet files of a folder, in name order (temporary files are never listed).
    A stage folder's complete shards are curation.task_output.complete_shards."""
    return storage.files(folder, "*.parquet")


def list_shards_many(locations: Iterable[str | os.PathLike]) -> list[str]:
    """Shard files given by name, and the complete shards of the folders given (in order)."""
    from curation.task_output import complete_shards  # task markers build on this module

    shards: list[str] = []
    for location in locations:
        location = storage.norm(location)
        if location.endswith(".parquet") and storage.isfile(location):
            shards.append(location)
        else:
            shards.extend(complete_shards(location))
    return shards


def read_table(paths: Iterable[str | os.PathLike], schema: pa.Schema, columns: list[str] | None = None) -> pa.Table:
    """Read shards into one table that has exactly `schema` (or its `columns`)."""
    tables = [storage.read_parquet(p, schema=schema, columns=columns) for p in paths]
    if not tables:
        fields = [schema.field(c) for c in columns] if columns else list(schema)
        return pa.Table.from_pylist([], schema=pa.schema(fields))
    return pa.concat_tables(tables)


def remove_task_files(folder: str | os.PathLike, task: int) -> None:
    """Remove what an interrupted run of `task` left behind, complete shards and temporaries."""
    for path in storage.files(folder, task_glob(task)):
        storage.remove(path)


# ------------------------------------------------------------------ reading untrusted shards

READ_ERRORS = (OSError, pa.ArrowException)  # what pyarrow raises on a corrupt or foreign file


class UnreadableShard(ValueError):
    """A shard of which no row can be read: its footer, or its schema, rules it out."""


def one_line(error: BaseException) -> str:
    return " ".join(f"{type(error).__name__}: {error}".split())


def _string_like(t: pa.DataType) -> bool:
    return pa.types.is_string(t) or pa.types.is_large_string(t) or pa.types.is_string_view(t)


def _compatible(actual: pa.DataType, expected: pa.DataType) -> bool:
    """Types that cast to `expected` without loss or guesswork (an all-null column is any type)."""
    if pa.types.is_dictionary(actual):
        actual = actual.value_type
    if actual.equals(expected) or pa.types.is_null(actual):
        return True
    if _string_like(expected):
        return _string_like(actual)
    if pa.types.is_floating(expected):
        return pa.types.is_floating(actual)
    return False


def schema_problems(actual: pa.Schema, expected: pa.Schema) -> list[str]:
    """What keeps a file of schema `actual` from being read as `expected`; extra columns are fine."""
    problems = []
    for field in expected:
        index = actual.get_field_index(field.name)
        if index < 0:
            problems.append(f"missing column {field.name!r}")
        elif not _compatible(actual.field(index).type, field.type):
            problems.append(f"column {field.name!r} has type {actual.field(index).type}, expected {field.type}")
    return problems


def open_shard(path: str | os.PathLike, schema: pa.Schema) -> pq.ParquetFile:
    """The shard, once its footer is read and its schema holds every column of `schema` with a
    compatible type; else UnreadableShard with a one-line reason naming the columns."""
    try:
        parquet = storage.parquet_file(path)
        actual = parquet.schema_arrow
    except READ_ERRORS as error:
        raise UnreadableShard(one_line(error)) from error
    problems = schema_problems(actual, schema)
    if problems:
        raise UnreadableShard("wrong schema: " + "; ".join(problems))
    return parquet


def declared_rows(path: str | os.PathLike) -> int:
    """The rows a shard's footer declares; none when the footer itself cannot be read."""
    try:
        return storage.parquet_file(path).metadata.num_rows
    except READ_ERRORS:
        return 0


def lenient(schema: pa.Schema) -> pa.Schema:
    """`schema` with every column nullable: rows are read as they are, nulls judged afterwards."""
    return pa.schema([field.with_nullable(True) for field in schema])


@dataclass
class RowGroup:
    """One row group of a shard: its rows (cast to the lenient schema), or why they are unreadable."""

    index: int
    start: int  # position in the shard of its first row
    num_rows: int
    table: pa.Table | None
    error: str | None = None


def read_row_groups(parquet: pq.ParquetFile, schema: pa.Schema) -> Iterator[RowGroup]:
    """Each row group of an opened shard in order, decoded with the columns of `schema` and cast
    to `lenient(schema)`, or with the one-line error that stopped its decoding (a corrupt page, a
    string column holding invalid UTF-8): the other row groups are read all the same, so what is
    lost is always whole row groups."""
    target = lenient(schema)
    start = 0
    for index in range(parquet.num_row_groups):
        num_rows = parquet.metadata.row_group(index).num_rows
        try:
            table = parquet.read_row_group(index, columns=schema.names).select(schema.names).cast(target)
            # Full validation checks the UTF-8 of every string (at memory speed); pyarrow's
            # reader does not, and invalid bytes would crash a later to_pylist or go on downstream.
            table.validate(full=True)
            yield RowGroup(index, start, num_rows, table)
        except READ_ERRORS as error:
            yield RowGroup(index, start, num_rows, None, one_line(error))
        start += num_rows


def unreadable_groups_error(groups: list[RowGroup], total: int) -> str:
    """One line for the error ledger about the row groups of a shard that could not be read."""
    names = ", ".join(str(g.index) for g in groups)
    rows = sum(g.num_rows for g in groups)
    label = "row group" if len(groups) == 1 else "row groups"
    return f"{label} {names} of {total} unreadable ({rows} rows): {groups[0].error}"


def null_reasons(table: pa.Table, schema: pa.Schema) -> pa.Array:
    """Per row, `null_<column>` for the first column that `schema` requires and the row lacks
    (a null), else null: a row that cannot be a document."""
    reasons = pa.nulls(table.num_rows, pa.string())
    for field in reversed(schema):  # the first column in schema order wins
        if not field.nullable and table[field.name].null_count:
            reasons = pc.if_else(pc.is_null(table[field.name]), f"null_{field.name}", reasons)
    return reasons


def fill_required(table: pa.Table, schema: pa.Schema) -> pa.Table:
    """Nulls in the columns `schema` requires become empty strings, so that a row with them can be
    written to a ledger (its reason says which column was null); the result has `schema`."""
    columns = []
    for field in schema:
        column = table[field.name]
        if not field.nullable and column.null_count:
            column = pc.fill_null(column, "")
        columns.append(column)
    return pa.Table.from_arrays(columns, schema=lenient(schema)).cast(schema)
