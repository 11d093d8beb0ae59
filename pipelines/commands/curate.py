"""`medcurate filter|dedup`: cleaning, language, quality and dedup over documents of any source."""
from pathlib import Path
from typing import List, Optional

import typer

from pipelines.cli_common import (
    MetricsOpt, OutOpt, ParamsOpt, SchedulerOpt, WorkersOpt, app, cli_errors, copy_metrics, executor_for, shard_bytes,
)
from pipelines.params import load_params, param


@app.command("filter")
def filter_command(
    inputs: List[Path] = typer.Argument(..., help="stage folders (or shards) of documents"),
    out: Path = OutOpt,
    workers: Optional[int] = WorkersOpt,
    scheduler: Optional[str] = SchedulerOpt,
    metrics: Optional[Path] = MetricsOpt,
    params_file: Optional[Path] = ParamsOpt,
) -> None:
    """Minimum length and language (langdetect, seeded); drops go to the ledger with a reason."""
    from pipelines.stages import filter as stage

    with cli_errors():
        params = load_params(params_file)
        settings = stage.FilterSettings(
            min_chars=param(params, "filter.min_chars", 200),
            min_words=param(params, "filter.min_words", 30),
            languages=tuple(param(params, "filter.languages", ["en"])),
            min_lang_score=param(params, "filter.min_lang_score", 0.8),
            seed=param(params, "seed", 0),
        )
        with executor_for(params, workers, scheduler) as executor:
            stage.run(inputs, out, settings, executor, shard_bytes(params))
        copy_metrics(out, metrics)


@app.command("dedup")
def dedup_command(
    inputs: List[Path] = typer.Argument(..., help="stage folders (or shards) of documents, all sources together"),
    out: Path = OutOpt,
    workers: Optional[int] = WorkersOpt,
    scheduler: Optional[str] = SchedulerOpt,
    metrics: Optional[Path] = MetricsOpt,
    params_file: Optional[Path] = ParamsOpt,
) -> None:
    """Exact dedup on normalised text, then by PMID; the ledger names each survivor."""
    from pipelines.stages import dedup as stage

    with cli_errors():
        params = load_params(params_file)
        with executor_for(params, workers, scheduler) as executor:
            stage.run(inputs, out, executor, shard_bytes(params))
        copy_metrics(out, metrics)
