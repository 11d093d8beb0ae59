"""Running a stage: one task per input shard, resumable, accounted, summarised.

A stage is a list of payloads (plain, picklable data: usually input paths) and a module-level
work function `work(payload, output: TaskOutput)`. Task i always gets payload i, so re-runs write
the same file names. A task is done when its marker exists; a re-run skips done tasks and redoes
the others from scratch, so an interrupted run (even `kill -9`) ends with the same bytes.
"""
from __future__ import annotations

import hashlib
import json
import logging
import os
import sys
from dataclasses import dataclass
from typing import Any, Callable, Sequence

from curation import storage
from curation.accounting import Counts
from curation.shards import DEFAULT_SHARD_BYTES
from curation.task_output import (
    STATS_FILE, TASKS_DIR, TaskOutput, clear_task, complete_shards, done_tasks, output_folders, read_marker,
)
from pipelines.executor import Executor

FIRST_ERRORS = 5  # error-ledger rows the summary prints
log = logging.getLogger("medcurate")

PLAN_FILE = "plan.json"


@dataclass(frozen=True)
class TaskSpec:
    stage: str
    out_dir: str
    index: int
    work: Callable[[Any, TaskOutput], None]
    payload: Any
    shard_bytes: int


def execute_task(spec: TaskSpec) -> dict:
    """Redo one task from scratch and mark it done (runs on a worker)."""
    clear_task(spec.out_dir, spec.index)
    output = TaskOutput(spec.out_dir, spec.index, spec.stage, spec.shard_bytes)
    spec.work(spec.payload, output)
    return output.close()


def _plan_digest(stage: str, out_dir: str, payloads: Sequence[Any], settings: Any, inputs: Sequence[str]) -> str:
    identities = [_identity(path) for path in inputs]
    text = json.dumps({"stage": stage, "payloads": payloads, "settings": settings, "inputs": identities}, sort_keys=True, default=str)
    # The same plan wherever the folder lies (a path, a bucket): payloads that name files inside
    # it (dedup's plans) count by their place in it.
    text = text.replace(json.dumps(out_dir)[1:-1], "<out>")
    return hashlib.sha256(text.encode()).hexdigest()


def _identity(path: str) -> list | None:
    try:
        return storage.identity(path)
    except FileNotFoundError:  # its task says so, in the error ledger
        return None


def _reset_if_plan_changed(out_dir: str, digest: str) -> None:
    """A stage folder holds one plan's output: a different plan starts from an empty folder.

    Without this, shards of an earlier, larger run would linger next to the new ones.
    """
    plan = storage.join(out_dir, TASKS_DIR, PLAN_FILE)
    if storage.isfile(plan) and storage.read_json(plan).get("digest") == digest:
        return
    for folder in output_folders(out_dir) + [storage.join(out_dir, TASKS_DIR)]:
        for path in storage.files(folder):
            name = storage.name(path)
            if name.startswith("part-") or name.endswith((".json", storage.TMP_SUFFIX)):
                storage.remove(path)
    storage.write_json(plan, {"digest": digest})


def _remove_temporaries(out_dir: str) -> None:
    for folder in output_folders(out_dir) + [storage.join(out_dir, TASKS_DIR)]:
        for path in storage.files(folder, "*" + storage.TMP_SUFFIX):
            storage.remove(path)


def run_stage(
    stage: str,
    out_dir: str | os.PathLike,
    payloads: Sequence[Any],
    work: Callable[[Any, TaskOutput], None],
    executor: Executor,
    *,
    shard_bytes: int = DEFAULT_SHARD_BYTES,
    settings: Any = None,
    summary_extra: dict | None = None,
    expected_documents_in: int | None = None,
    inputs: Sequence[str] = (),
) -> Counts:
    """Run every unfinished task, then check the counts and write DIR/stats.json.

    `settings` are the options that change the output: a change of inputs or settings restarts
    the folder from empty instead of resuming. `inputs` are the files the tasks read: each one's
    identity (curation.storage.identity: size and modification time, or ETag) is part of
    the plan, so a folder resumes, or counts as done, only on the very files it was made from;
    an input replaced since (its stage run again) restarts it. `expected_documents_in`, counted
    apart from the tasks, must equal the documents they saw.
    """
    out_dir = storage.norm(out_dir)
    storage.makedirs(out_dir)
    _reset_if_plan_changed(out_dir, _plan_digest(stage, out_dir, list(payloads), settings, inputs))
    _remove_temporaries(out_dir)
    done = done_tasks(out_dir)
    pending = [i for i in range(len(payloads)) if i not in done]
    if pending:  # readers must not take the folder for complete while tasks are redone
        storage.remove(storage.join(out_dir, STATS_FILE))
    if len(pending) < len(payloads):
        log.info("%s: resuming, %d of %d tasks already done", stage, len(payloads) - len(pending), len(payloads))
    specs = [TaskSpec(stage, out_dir, i, work, payloads[i], shard_bytes) for i in pending]
    executor.map(execute_task, specs, desc=stage)

    counts = Counts()
    for i in range(len(payloads)):
        counts.add(Counts.from_dict(read_marker(out_dir, i)["counts"]))
    counts.check(stage, expected_documents_in)
    stats = {"stage": stage, "tasks": len(payloads), **counts.to_dict(), **(summary_extra or {})}
    storage.write_json(storage.join(out_dir, STATS_FILE), stats)
    print_summary(stage, out_dir, counts)
    return counts


def print_summary(stage: str, out_dir: str, counts: Counts) -> None:
    reasons = ", ".join(f"{r} {n}" for r, n in counts.reasons.most_common()) or "none"
    lines = [
        f"[{stage}] documents: {counts.documents_in} in, {counts.documents_out} out, "
        f"{counts.ledgered} ledgered ({reasons}), {counts.record_errors} unreadable records",
        f"[{stage}] inputs: {counts.inputs} ({counts.inputs_parsed} read, {counts.input_errors} in the error ledger)",
    ]
    errors = first_errors(out_dir)
    lines += [f"[{stage}]   {line}" for line in errors]
    if errors and counts.input_errors + counts.record_errors > len(errors):
        lines.append(f"[{stage}]   … the rest in {storage.join(out_dir, 'errors')}")
    lines.append(f"[{stage}] output: {out_dir}  (stats: {storage.join(out_dir, STATS_FILE)})")
    print("\n".join(lines), file=sys.stderr)


def first_errors(out_dir: str, limit: int = FIRST_ERRORS) -> list[str]:
    """The first `limit` error-ledger rows of a completed stage folder, one line each: what went
    wrong where, so that a run with unreadable inputs says why without opening the Parquet files."""
    lines: list[str] = []
    for path in complete_shards(out_dir, "errors"):
        for row in storage.read_parquet(path, columns=["input", "record", "error"]).slice(0, limit - len(lines)).to_pylist():
            where = f"{row['input']} (record {row['record']})" if row["record"] else row["input"]
            lines.append(f"{where}: {row['error'][:300]}")
        if len(lines) >= limit:
            break
    return lines
