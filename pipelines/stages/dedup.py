"""`medcurate dedup`: decontamination, exact, identifier and near-duplicate dedup across all inputs.

This module only wires the passes of curation.dedup (see its package docstring) to the inputs,
the executor, the stage folder and the accounting:

1. keys, one task per input shard, in parallel (curation.dedup.shard_keys);
2. edges, one task per key partition, in parallel (curation.dedup.partition_edges);
3. plan, here, over narrow rows (curation.dedup.drop_plan);
4. apply, one task per input shard through the runner (resumable, accounted): the shard is read
   as one Arrow table and split by its plan; the plan's rows go to the ledger
   (TaskOutput.drop_table), the others on (TaskOutput.emit_table), with the same shard writer,
   names and counts as row by row, and per-source counts (curation.stats.table_stats).

Every pass is deterministic and independent of how many workers run it, so 1 and N workers give
byte-identical output. Passes 1 and 2 leave a `.done` marker per task in the work folder
(curation.dedup.workdir: DIR/_work, or a folder named by the inputs' digest under `dedup.scratch`),
so an interrupted run resumes where it stopped; the work folder is removed once the stage
completes. DIR and the scratch may be URLs: tasks pass each other only names in them. Passes 1
and 4 read a shard only while it is the file the run was planned on (`unchanged`), and a
work folder is resumed only for the same files (curation.dedup.workdir `prepare`).
"""
from __future__ import annotations

import hashlib
import json
import logging
import os

import numpy as np
import pyarrow as pa

from curation import storage
from curation.dedup.decontam import stage_index
from curation.dedup.drop_plan import plan_drops, split_by_plan
from curation.dedup.malloc import tune_malloc
from curation.dedup.partition_edges import partition_edges
from curation.dedup.settings import DedupSettings, file_identity
from curation.dedup.shard_keys import shard_keys
from curation.dedup.shuffle import KEY_DTYPE
from curation.dedup.workdir import WORK, WorkDir
from curation.schema import DOCUMENT_SCHEMA
from curation.shards import fill_required
from curation.stats import table_stats
from curation.task_output import TASKS_DIR, TaskOutput
from pipelines.executor import Executor
from pipelines.runner import run_stage
from pipelines.stages.inputs import document_row_groups, shard_rows, stage_shards, unchanged
from pipelines.stages.stage_stats import merge_stage_stats, save_task_stats

log = logging.getLogger("medcurate")

STAGE = "dedup"
INPUTS_FILE = "inputs.json"  # in DIR/_tasks: the identities of the input shards of the run that completed
__all__ = ["DedupSettings", "WORK", "run"]


def keys_task(spec: tuple[str, int, str, list, DedupSettings]) -> dict:
    """Pass 1 for one input shard (runs on a worker)."""
    work, index, shard, identity, settings = spec
    tune_malloc()
    with unchanged([shard], [identity], STAGE):
        return shard_keys(WorkDir(work), index, shard, settings)


def edges_task(spec: tuple[str, int, int, DedupSettings]) -> dict:
    """Pass 2 for one key partition (runs on a worker)."""
    work, p, n_shards, settings = spec
    tune_malloc()
    return partition_edges(WorkDir(work), p, n_shards, settings)


def apply_work(payload: tuple[str, list, str, str, tuple[int, ...]], output: TaskOutput) -> None:
    """Pass 4 for one input shard, as tables: the plan's rows to the ledger, the others on, in order.

    The row groups the keys pass could not read are in the error ledger, their rows unread
    (pipelines.stages.inputs.document_row_groups); this pass must read exactly the others."""
    shard, identity, plan_path, _digest, read_groups = payload
    tune_malloc()
    plan = storage.read_parquet(plan_path)
    with unchanged([shard], [identity], STAGE):
        groups = list(document_row_groups(shard, output))
    if [g.index for g in groups] != list(read_groups):
        raise RuntimeError(f"{shard}: other row groups are readable now than in the keys pass; was the file changed?")
    if groups:
        table = fill_required(pa.concat_tables([g.table for g in groups]), DOCUMENT_SCHEMA)
        positions = np.concatenate([np.arange(g.start, g.start + g.num_rows, dtype=np.int64) for g in groups])
    else:
        table, positions = DOCUMENT_SCHEMA.empty_table(), np.empty(0, np.int64)
    keep, dropped = split_by_plan(table, positions, plan, shard)
    output.emit_table(table.filter(pa.array(keep)))
    output.drop_table(dropped, plan["reason"], plan["detail"])
    save_task_stats(output, table_stats(table, keep, plan["reason"]))


def _inputs_digest(shards: list[str], settings: DedupSettings) -> str:
    items = {"shards": [file_identity(s) for s in shards], "settings": settings.digest_items()}
    return hashlib.sha256(json.dumps(items, sort_keys=True, default=str).encode()).hexdigest()


def work_folder(out_dir: str, digest: str, settings: DedupSettings) -> WorkDir:
    """DIR/_work, or under `dedup.scratch` a folder of its own for these inputs and settings."""
    if settings.scratch:
        return WorkDir(storage.join(settings.scratch, f"dedup-{digest[:16]}"))
    return WorkDir(storage.join(out_dir, WORK))


def run(
    inputs: list[str | os.PathLike],
    out_dir: str | os.PathLike,
    executor: Executor,
    shard_bytes: int,
    settings: DedupSettings = DedupSettings(),
) -> dict:
    out_dir = storage.norm(out_dir)
    shards = stage_shards(inputs)
    digest = _inputs_digest(shards, settings)
    work = work_folder(out_dir, digest, settings)
    stats_path = storage.join(out_dir, "stats.json")
    identities = [storage.identity(s) for s in shards]
    # The identities of the files a completed run read, beside the runner's plan (bookkeeping: the
    # output and stats.json must not vary with a file's modification time).
    made_from = storage.join(out_dir, TASKS_DIR, INPUTS_FILE)
    if storage.isfile(stats_path) and storage.isfile(made_from):
        previous = storage.read_json(stats_path)
        if previous.get("inputs_digest") == digest and storage.read_json(made_from) == identities and not work.exists():
            log.info("%s: already complete for these inputs and settings", STAGE)
            return previous
    executor.size_to(shards, tasks=max(len(shards), settings.partitions))
    work.prepare(digest, identities)
    log.info(
        "%s: %d shards; signatures take %d bytes per document, keys %d",
        STAGE, len(shards), 4 * settings.minhash.num_perm, KEY_DTYPE.itemsize * (settings.minhash.num_bands + 1 + len(settings.identifiers)),
    )
    if settings.benchmarks:
        # Built here once (or found from an earlier run) and put in the work folder, so that each
        # worker only loads it, from where every worker reaches.
        stage_index(list(settings.benchmarks), settings.decontam, settings.index_cache_dir, work.benchmark_index())
    key_summaries = executor.map(
        keys_task, [(work.root, i, s, identity, settings) for i, (s, identity) in enumerate(zip(shards, identities))],
        desc=f"{STAGE} (keys)",
    )
    edge_summaries = executor.map(
        edges_task, [(work.root, p, len(shards), settings) for p in range(settings.partitions)], desc=f"{STAGE} (edges)"
    )
    plans, cluster_stats = plan_drops(work, len(shards), settings.partitions)
    payloads = [(s, identity, path, plan_digest, tuple(k["read_groups"]))
                for s, identity, (path, plan_digest), k in zip(shards, identities, plans, key_summaries)]
    run_stage(
        STAGE, out_dir, payloads, apply_work, executor, shard_bytes=shard_bytes,
        expected_documents_in=shard_rows(shards), inputs=shards,
    )
    extra = {
        "inputs_digest": digest,
        "near_duplicates": {
            "minhash": settings.minhash.to_dict(),
            "candidate_pairs": sum(e["near_candidates"] for e in edge_summaries),
            "verified_pairs": sum(e["near_verified"] for e in edge_summaries),
            "exact_and_identifier_pairs": sum(e["exact_pairs"] for e in edge_summaries),
            **cluster_stats,
        },
        "decontamination": {
            "benchmarks": list(settings.benchmarks),
            "n_grams": settings.decontam.n_grams,
            "min_matches": settings.decontam.min_matches,
            "documents": sum(k["contaminated"] for k in key_summaries),
        },
    }
    stats = merge_stage_stats(out_dir, extra)
    storage.write_json(made_from, identities)
    if not settings.keep_work:
        work.remove()
    return stats

