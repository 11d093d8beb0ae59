"""What one task of a stage writes: documents, ledger, error ledger and its counts.

Layout of a stage folder DIR:
    DIR/part-TTTTT-SSSS.parquet          documents
    DIR/ledger/part-TTTTT-SSSS.parquet   documents that did not go on, with a reason
    DIR/errors/part-TTTTT-SSSS.parquet   inputs or records that could not be read
    DIR/_tasks/TTTTT.json                the task's counts; written last, it marks the task done
    DIR/stats.json                       the stage's counts (written by the runner)
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Mapping

import pyarrow as pa
import pyarrow.compute as pc

from curation.accounting import Counts
from curation.atomic import write_json_atomic
from curation.schema import DOCUMENT_SCHEMA, ERROR_SCHEMA, LEDGER_SCHEMA, error_row, ledger_row
from curation.shards import DEFAULT_SHARD_BYTES, ShardWriter, remove_task_files

TASKS_DIR = "_tasks"


def marker_path(out_dir: Path, task: int) -> Path:
    return Path(out_dir) / TASKS_DIR / f"{task:05d}.json"


def task_done(out_dir: Path, task: int) -> bool:
    return marker_path(out_dir, task).is_file()


def read_marker(out_dir: Path, task: int) -> dict:
    return json.loads(marker_path(out_dir, task).read_text(encoding="utf-8"))


def output_folders(out_dir: Path) -> list[Path]:
    """The stage folder and its subfolders (ledger, errors, splits): where task files live."""
    out_dir = Path(out_dir)
    if not out_dir.is_dir():
        return []
    return [out_dir] + sorted(p for p in out_dir.iterdir() if p.is_dir() and p.name != TASKS_DIR)


def clear_task(out_dir: Path, task: int) -> None:
    """Forget an unfinished task's partial output so that it can be redone from scratch."""
    for folder in output_folders(out_dir):
        remove_task_files(folder, task)


class TaskOutput:
    """Collects one task's documents, drops and errors, and counts them as it goes."""

    def __init__(self, out_dir: Path, task: int, stage: str, shard_bytes: int = DEFAULT_SHARD_BYTES):
        self.out_dir = Path(out_dir)
        self.task = task
        self.stage = stage
        self.counts = Counts()
        self.shard_bytes = shard_bytes
        self._docs = ShardWriter(self.out_dir, task, DOCUMENT_SCHEMA, shard_bytes)
        self._splits: dict[str, ShardWriter] = {}
        self._ledger = ShardWriter(self.out_dir / "ledger", task, LEDGER_SCHEMA, shard_bytes)
        self._errors = ShardWriter(self.out_dir / "errors", task, ERROR_SCHEMA, shard_bytes)

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
            self._splits[split] = ShardWriter(self.out_dir / split, self.task, DOCUMENT_SCHEMA, self.shard_bytes)
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

    def close(self) -> dict:
        """Write the remaining shards, then the marker that says this task is complete."""
        for writer in (self._docs, self._ledger, self._errors, *self._splits.values()):
            writer.close()
        summary = {"task": self.task, "stage": self.stage, "counts": self.counts.to_dict()}
        write_json_atomic(marker_path(self.out_dir, self.task), summary)
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

    from curation.shards import shard_name, write_table_atomic

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
        path = writer.folder / shard_name(writer.task, writer.seq)
        write_table_atomic(table.slice(start, end - start), path, writer.row_group_rows)
        writer.written.append(path)
        writer.seq += 1
        start = end
    writer.count += n
