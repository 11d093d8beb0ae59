"""What one task of a stage writes: documents, ledger, error ledger and its counts.

Layout of a stage folder DIR:
    DIR/part-TTTTT-SSSS.parquet          documents
    DIR/ledger/part-TTTTT-SSSS.parquet   documents that did not go on, with a reason
    DIR/errors/part-TTTTT-SSSS.parquet   inputs or records that could not be read
    DIR/_tasks/TTTTT.json                the task's counts and the files it wrote; written last,
                                         it marks the task done
    DIR/stats.json                       the stage's counts (written by the runner, after every task)

DIR is a location of curation.storage: a plain path or a URL (s3://bucket/prefix, …).

The commit protocol holds without rename (object stores have none): every file of a task is
written in full to its final name, then its marker, which names them. Readers trust only the
shards that the markers of a completed stage (its stats.json written) name (`complete_shards`):
what a killed task left under its names is never read, and a re-run clears it before redoing the
task from scratch, so the stage ends with the same bytes.
"""
from __future__ import annotations

import os
from typing import Mapping

import pyarrow as pa
import pyarrow.compute as pc

from curation import storage
from curation.accounting import Counts
from curation.schema import DOCUMENT_SCHEMA, ERROR_SCHEMA, LEDGER_SCHEMA, error_row, ledger_row
from curation.shards import (
    DEFAULT_SHARD_BYTES, ShardWriter, list_shards, remove_task_files, shard_name, task_glob, write_table_atomic,
)

TASKS_DIR = "_tasks"


STATS_FILE = "stats.json"


class IncompleteStage(ValueError):
    """A stage folder whose run has not finished: its shards are not to be read yet."""


def marker_path(out_dir: str | os.PathLike, task: int) -> str:
    return storage.join(out_dir, TASKS_DIR, f"{task:05d}.json")


def done_tasks(out_dir: str | os.PathLike) -> set[int]:
    """The tasks whose markers exist (one listing, not a request per task)."""
    return {int(storage.name(p)[:-5]) for p in storage.files(storage.join(out_dir, TASKS_DIR), "[0-9]*.json")}


def task_done(out_dir: str | os.PathLike, task: int) -> bool:
    return storage.isfile(marker_path(out_dir, task))


def read_marker(out_dir: str | os.PathLike, task: int) -> dict:
    return storage.read_json(marker_path(out_dir, task))


def output_folders(out_dir: str | os.PathLike) -> list[str]:
    """The stage folder and its subfolders (ledger, errors, splits): where task files live."""
    if not storage.isdir(out_dir):
        return []
    out_dir = storage.norm(out_dir)
    return [out_dir] + [p for p in storage.folders(out_dir) if storage.name(p) != TASKS_DIR]


def clear_task(out_dir: str | os.PathLike, task: int) -> None:
    """Forget an unfinished task's partial output so that it can be redone from scratch."""
    for folder in output_folders(out_dir):
        remove_task_files(folder, task)


def is_stage_folder(folder: str | os.PathLike) -> bool:
    return storage.isdir(storage.join(folder, TASKS_DIR))


def complete_shards(out_dir: str | os.PathLike, sub: str = "") -> list[str]:
    """The shards of DIR/`sub` ("" for the documents, "ledger", "errors", a split) that the
    markers of DIR's tasks name, in name order. DIR must be a completed stage (its stats.json
    says how many tasks it has); a folder that is no stage folder (no _tasks: shards put there
    by hand) gives its Parquet files."""
    out_dir = storage.norm(out_dir)
    folder = storage.join(out_dir, sub) if sub else out_dir
    if not is_stage_folder(out_dir):
        return list_shards(folder)
    stats = storage.join(out_dir, STATS_FILE)
    if not storage.isfile(stats):
        raise IncompleteStage(f"{out_dir}: the stage has not completed (no {STATS_FILE}); run it again to finish it")
    names: list[str] = []
    for task in range(int(storage.read_json(stats)["tasks"])):
        marker = read_marker(out_dir, task)
        if "files" not in marker:  # a marker of an older version: its task's files by name
            names += [storage.name(p) for p in storage.files(folder, task_glob(task)) if p.endswith(".parquet")]
            continue
        names += [n.rpartition("/")[2] for n in marker["files"] if n.rpartition("/")[0] == sub and n.endswith(".parquet")]
    return [storage.join(folder, n) for n in sorted(names)]


class TaskOutput:
    """Collects one task's documents, drops and errors, and counts them as it goes."""

    def __init__(self, out_dir: str | os.PathLike, task: int, stage: str, shard_bytes: int = DEFAULT_SHARD_BYTES):
        self.out_dir = storage.norm(out_dir)
        self.task = task
        self.stage = stage
        self.counts = Counts()
        self.shard_bytes = shard_bytes
        self._docs = ShardWriter(self.out_dir, task, DOCUMENT_SCHEMA, shard_bytes)
        self._splits: dict[str, ShardWriter] = {}
        self._ledger = ShardWriter(storage.join(self.out_dir, "ledger"), task, LEDGER_SCHEMA, shard_bytes)
        self._errors = ShardWriter(storage.join(self.out_dir, "errors"), task, ERROR_SCHEMA, shard_bytes)
        self._side_files: list[str] = []

    # inputs (files, URLs) ------------------------------------------------------------------
    def input_parsed(self) -> None:
        self.counts.inputs += 1
        self.counts.inputs_parsed += 1

    def input_failed(self, input: str, error: BaseException | str) -> None:
        self.counts.inputs += 1
        self.counts.input_errors += 1
        self._errors.write(error_row(input, self.stage, error))

    # documents -------------------------------------------------------------------------------
    def emit(self, doc: Mapping, split: str | None = None) -> None:
        """A document that goes on to the next stage; `split` puts it in DIR/<split>/."""
        self.counts.documents_in += 1
        self.counts.documents_out += 1
        self.counts.by_source[doc["source"]] += 1
        if split is None:
            self._docs.write(dict(doc))
            return
        self.counts.by_split[split] += 1
        if split not in self._splits:
            self._splits[split] = ShardWriter(storage.join(self.out_dir, split), self.task, DOCUMENT_SCHEMA, self.shard_bytes)
        self._splits[split].write(dict(doc))

    def drop(self, doc: Mapping, reason: str, detail: str | None = None) -> None:
        """A document that stops here, with a stable reason code."""
        self.counts.documents_in += 1
        self.counts.ledgered += 1
        self.counts.reasons[reason.split(":", 1)[0]] += 1
        self._ledger.write(ledger_row(doc, self.stage, reason, detail))

    def emit_table(self, table: pa.Table) -> None:
        """Bulk `emit` of a document table (no split): the same counts, shard names and size cuts."""
        n = table.num_rows
        self.counts.documents_in += n
        self.counts.documents_out += n
        self.counts.by_source.update(_value_counts(table["source"]))
        write_table_shards(self._docs, table)

    def drop_table(self, table: pa.Table, reasons: pa.Array | list, details: pa.Array | list | None = None) -> None:
        """Bulk `drop`: row i of `table` stops here with `reasons[i]` (and `details[i]`)."""
        n = table.num_rows
        reasons = pa.array(reasons, pa.string()) if not isinstance(reasons, (pa.Array, pa.ChunkedArray)) else reasons
        if details is None:
            details = pa.nulls(n, pa.string())
        elif not isinstance(details, (pa.Array, pa.ChunkedArray)):
            details = pa.array(details, pa.string())
        if len(reasons) != n or len(details) != n or pc.any(pc.is_null(reasons)).as_py():
            raise ValueError("drop_table needs one non-null reason (and one detail) per row")
        self.counts.documents_in += n
        self.counts.ledgered += n
        codes = pc.list_element(pc.split_pattern(reasons, ":", max_splits=1), 0)  # as `drop` counts them
        self.counts.reasons.update(_value_counts(codes))
        columns = [table[name] for name in DOCUMENT_SCHEMA.names]
        columns += [pa.array([self.stage] * n, pa.string()), reasons, details]
        write_table_shards(self._ledger, pa.Table.from_arrays(columns, schema=LEDGER_SCHEMA))

    def record_failed(self, input: str, record: str, error: BaseException | str) -> None:
        """A record inside an input that could not be read; the rest of the input goes on."""
        self.counts.documents_in += 1
        self.counts.record_errors += 1
        self._errors.write(error_row(input, self.stage, error, record=record))

    def write_side_table(self, sub: str, table: pa.Table) -> None:
        """DIR/`sub`/part-TTTTT-0000.parquet: one table a task keeps beside its documents (token
        counts, token shards), named in the task's marker like the shards."""
        path = storage.join(self.out_dir, sub, shard_name(self.task, 0))
        write_table_atomic(table, path)
        self._side_files.append(path)

    def close(self) -> dict:
        """Write the remaining shards, then the marker that says this task is complete and names
        every file it wrote (relative to DIR)."""
        written = list(self._side_files)
        for writer in (self._docs, self._ledger, self._errors, *self._splits.values()):
            written += writer.close()
        prefix = self.out_dir.rstrip("/\\") + ("/" if not storage.is_local(self.out_dir) else os.sep)
        files = sorted(p[len(prefix):].replace(os.sep, "/") for p in written)
        summary = {"task": self.task, "stage": self.stage, "counts": self.counts.to_dict(), "files": files}
        storage.write_json(marker_path(self.out_dir, self.task), summary)
        return summary


def _value_counts(column) -> dict:

    counts = pc.value_counts(column)
    return dict(zip(counts.field("values").to_pylist(), counts.field("counts").to_pylist()))


def write_table_shards(writer: ShardWriter, table) -> None:
    """Write a whole table through `writer`: rows already buffered go first, as their own shard,
    then the table is cut where the row-by-row writer would cut it (each shard reaches the
    writer's target of text bytes, as `_row_bytes` counts them), and every piece is written now
    under the writer's next shard names. Written row by row or as one table, a task that writes
    only through this gives the same shard boundaries."""
    import numpy as np

    writer.flush()
    table = table.select(writer.schema.names).cast(writer.schema)
    n = table.num_rows
    if n == 0:
        return
    sizes = np.full(n, 8 * len(writer.schema), dtype=np.int64)
    for field in writer.schema:
        if pa.types.is_string(field.type):
            sizes += pc.fill_null(pc.utf8_length(table[field.name]), 0).to_numpy().astype(np.int64)
    total = np.cumsum(sizes)
    start = 0
    while start < n:
        base = total[start - 1] if start else 0
        # The first row at which the buffer reaches the target closes the shard.
        end = int(np.searchsorted(total, base + writer.target_bytes, side="left")) + 1
        end = min(end, n)
        path = storage.join(writer.folder, shard_name(writer.task, writer.seq))
        write_table_atomic(table.slice(start, end - start), path, writer.row_group_rows)
        writer.written.append(path)
        writer.seq += 1
        start = end
    writer.count += n
