"""`medcurate mix`: the train/validation split, by a hash of each document's id.

Each subset has its own validation share (params.yaml `mix.validation_share`); the split of a
document never depends on anything but its id and the salt.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from curation.schema import DOCUMENT_SCHEMA
from curation.shards import iter_rows
from curation.split import assign_split
from curation.task_output import TaskOutput
from pipelines.executor import Executor
from pipelines.runner import run_stage
from pipelines.stages.inputs import shard_rows, stage_shards

STAGE = "mix"


@dataclass(frozen=True)
class MixSettings:
    validation_share: dict = field(default_factory=lambda: {"abstracts": 0.03, "papers": 0.03, "guidelines": 0.05, "replay": 0.0})
    salt: str = "medcurate"

    def share(self, subset: str) -> float:
        return float(self.validation_share.get(subset, 0.0))


def mix_work(payload: tuple[str, MixSettings], output: TaskOutput) -> None:
    shard, settings = payload
    try:
        for doc in iter_rows(shard, DOCUMENT_SCHEMA):
            output.emit(doc, split=assign_split(doc["id"], settings.share(doc["subset"]), settings.salt))
    except OSError as error:
        output.input_failed(shard, error)
        return
    output.input_parsed()


def run(inputs: list[Path | str], out_dir: Path, settings: MixSettings, executor: Executor, shard_bytes: int) -> None:
    shards = [str(p) for p in stage_shards(inputs)]
    run_stage(STAGE, out_dir, [(s, settings) for s in shards], mix_work, executor, shard_bytes=shard_bytes, settings=settings, expected_documents_in=shard_rows(shards))
