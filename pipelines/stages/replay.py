"""`medcurate replay`: general-domain sources -> documents (source `replay/<name>`, subset `replay`).

One task per input file (per dataset for `hf` sources). Its documents then go through filter and
dedup like every other source; the mix gives them their token budget.
"""
from __future__ import annotations

from dataclasses import asdict
from itertools import islice
from pathlib import Path

from curation.task_output import TaskOutput
from pipelines.executor import Executor
from pipelines.runner import run_stage
from sources.errors import InputError
from sources.replay.document import BadRecord, Skipped
from sources.replay.spec import ReplaySource

STAGE = "replay"


def replay_work(payload: tuple[dict, str], output: TaskOutput) -> None:
    spec_values, input = payload
    spec = ReplaySource(**spec_values)
    try:
        for item in islice(spec.read(input), spec.max_documents):
            if isinstance(item, BadRecord):
                output.record_failed(input, item.record, item.error)
            elif isinstance(item, Skipped):
                output.drop(item.doc, item.reason, item.detail)
            else:
                output.emit(item)
    except (InputError, OSError) as error:
        # What was read before the failure stays; the input itself goes to the error ledger.
        output.input_failed(input, error)
        return
    output.input_parsed()


def run(sources: list[ReplaySource], out_dir: Path, executor: Executor, shard_bytes: int) -> None:
    payloads = [(asdict(spec), input) for spec in sources for input in spec.inputs()]
    files = [f for spec in sources for input in spec.inputs() for f in spec.files_read(input)]
    run_stage(STAGE, out_dir, payloads, replay_work, executor, shard_bytes=shard_bytes, settings=None, inputs=files)
