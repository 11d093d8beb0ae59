"""`medcurate filter`: per-document filters, in order; the first that says no decides the reason."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from curation.filters.language import LanguageFilter
from curation.filters.length import MinLength
from curation.schema import DOCUMENT_SCHEMA
from curation.shards import iter_rows
from curation.task_output import TaskOutput
from pipelines.executor import Executor
from pipelines.runner import run_stage
from pipelines.stages.inputs import shard_rows, stage_shards

STAGE = "filter"


@dataclass(frozen=True)
class FilterSettings:
    min_chars: int = 200
    min_words: int = 30
    languages: tuple[str, ...] = ("en",)
    min_lang_score: float = 0.8
    seed: int = 0
    lang_prefix_chars: int = 2000

    def build(self) -> list:
        return [
            MinLength(self.min_chars, self.min_words),
            LanguageFilter(self.languages, self.min_lang_score, self.seed, self.lang_prefix_chars),
        ]


def filter_work(payload: tuple[str, FilterSettings], output: TaskOutput) -> None:
    shard, settings = payload
    filters = settings.build()
    try:
        for doc in iter_rows(shard, DOCUMENT_SCHEMA):
            for step in filters:
                verdict = step.check(doc)
                if not verdict.keep:
                    output.drop(doc, verdict.reason, verdict.detail)
                    break
            else:
                output.emit(doc)
    except OSError as error:
        output.input_failed(shard, error)
        return
    output.input_parsed()


def run(inputs: list[Path | str], out_dir: Path, settings: FilterSettings, executor: Executor, shard_bytes: int) -> None:
    shards = [str(p) for p in stage_shards(inputs)]
    run_stage(STAGE, out_dir, [(s, settings) for s in shards], filter_work, executor, shard_bytes=shard_bytes, settings=settings, expected_documents_in=shard_rows(shards))
