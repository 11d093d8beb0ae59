"""`medcurate dedup`: exact (normalised text) and PMID dedup across every input shard.

Pass 1 reads narrow rows per shard in parallel; the planner decides the drops; pass 2 writes
each shard minus its drops, ledgering each with the id of the copy that survived.
"""
from __future__ import annotations

from collections import defaultdict
from pathlib import Path

import pyarrow.parquet as pq

from curation.dedup.exact import plan_exact_drops
from curation.dedup.keys import text_hash
from curation.schema import DOCUMENT_SCHEMA
from curation.shards import iter_rows
from curation.task_output import TaskOutput
from pipelines.executor import Executor
from pipelines.runner import run_stage
from pipelines.stages.inputs import shard_rows, stage_shards

STAGE = "dedup"
_NARROW = ["id", "subset", "date", "pmid", "text"]


def narrow_rows(shard: str) -> list[dict]:
    """The dedup keys of one shard; the text itself is hashed here and never leaves the worker."""
    table = pq.read_table(shard, columns=_NARROW)
    rows = []
    for position, row in enumerate(table.to_pylist()):
        row["text_hash"] = text_hash(row.pop("text"))
        row["shard"], row["position"] = shard, position
        row["key"] = f"{shard}#{position}"
        rows.append(row)
    return rows


def apply_work(payload: tuple[str, dict[int, tuple[str, str]]], output: TaskOutput) -> None:
    shard, drops = payload
    try:
        for position, doc in enumerate(iter_rows(shard, DOCUMENT_SCHEMA)):
            if position in drops:
                output.drop(doc, *drops[position])
            else:
                output.emit(doc)
    except OSError as error:
        output.input_failed(shard, error)
        return
    output.input_parsed()


def run(inputs: list[Path | str], out_dir: Path, executor: Executor, shard_bytes: int) -> None:
    shards = [str(p) for p in stage_shards(inputs)]
    rows = [row for part in executor.map(narrow_rows, shards, desc=f"{STAGE} (keys)") for row in part]
    plan = plan_exact_drops(rows)
    per_shard: dict[str, dict[int, tuple[str, str]]] = defaultdict(dict)
    for row in rows:
        if row["key"] in plan:
            per_shard[row["shard"]][row["position"]] = plan[row["key"]]
    payloads = [(s, dict(sorted(per_shard[s].items()))) for s in shards]
    run_stage(STAGE, out_dir, payloads, apply_work, executor, shard_bytes=shard_bytes, expected_documents_in=len(rows))
