"""`medcurate filter`: clean each document, then run its source's filters in order.

The first filter that says no decides the ledger reason; the document is ledgered as it was when
it was dropped (after cleaning). A document that cleaning empties is ledgered `empty_after_cleaning`;
a row with a null where the schema requires a value, `null_<column>`; a text above
`filter.max_text_bytes` (UTF-8 bytes, 16 MiB by default), `too_large`, before any filter reads
it (a 300 MB dump would cost gigabytes in the quality filters). A shard that cannot be read
(footer, schema), or its row groups that cannot be decoded, go to the error ledger and the rest
goes on (pipelines.stages.inputs.document_row_groups).
Which filters and thresholds apply to a source: curation.filters.chain (params.yaml `filter:`).
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field

from curation import storage
from curation.filters.chain import SourceChains
from curation.schema import DOCUMENT_SCHEMA, MAX_TEXT_BYTES
from curation.shards import fill_required, null_reasons
from curation.stats import StageStats
from curation.task_output import TaskOutput
from pipelines.executor import Executor
from pipelines.runner import run_stage
from pipelines.stages.inputs import document_row_groups, shard_rows, stage_shards
from pipelines.stages.stage_stats import merge_stage_stats, save_task_stats

STAGE = "filter"


@dataclass(frozen=True)
class FilterSettings:
    config: dict = field(default_factory=dict)  # params.yaml `filter:`
    seed: int = 0


def filter_work(payload: tuple[str, FilterSettings], output: TaskOutput) -> None:
    shard, settings = payload
    chains = SourceChains(settings.config, settings.seed)
    max_bytes = int(settings.config.get("max_text_bytes") or MAX_TEXT_BYTES)
    stats = StageStats()
    for group in document_row_groups(shard, output):
        invalid = null_reasons(group.table, DOCUMENT_SCHEMA).to_pylist()
        for position, (doc, reason) in enumerate(zip(fill_required(group.table, DOCUMENT_SCHEMA).to_pylist(), invalid), group.start):
            source = doc["source"]
            stats.seen(source, doc["text"])
            if reason is not None:  # a null where the schema requires a value: not a document
                output.drop(doc, reason, f"row {position} of {storage.name(shard)}")
                stats.dropped(source, reason)
                continue
            size = text_bytes(doc["text"], max_bytes)
            if size > max_bytes:
                output.drop(doc, "too_large", f"{size} bytes of text, above filter.max_text_bytes={max_bytes}")
                stats.dropped(source, "too_large")
                continue
            chain = chains(source)
            if chain.cleaner is not None:
                doc["text"] = chain.cleaner(doc["text"])
                if not doc["text"]:
                    output.drop(doc, "empty_after_cleaning")
                    stats.dropped(source, "empty_after_cleaning")
                    continue
            for step in chain.filters:
                verdict = step.check(doc)
                if not verdict.keep:
                    output.drop(doc, verdict.reason, verdict.detail)
                    stats.dropped(source, verdict.reason)
                    break
            else:
                output.emit(doc)
                stats.kept(source, doc["text"])
    save_task_stats(output, stats)


def text_bytes(text: str, limit: int) -> int:
    """UTF-8 size of `text` when it may exceed `limit`; otherwise its length (no copy to encode)."""
    return len(text) if len(text) * 4 <= limit else len(text.encode("utf-8", errors="surrogatepass"))


def run(inputs: list[str | os.PathLike], out_dir: str | os.PathLike, settings: FilterSettings, executor: Executor, shard_bytes: int) -> dict:
    shards = stage_shards(inputs)
    executor.size_to(shards)
    run_stage(STAGE, out_dir, [(s, settings) for s in shards], filter_work, executor, shard_bytes=shard_bytes, settings=settings,
              expected_documents_in=shard_rows(shards), inputs=shards)
    return merge_stage_stats(out_dir)
