"""`medcurate replay`: read the general-domain replay sources named in params.yaml."""
from pathlib import Path
from typing import List, Optional

import typer

from pipelines.cli_common import (
    MetricsOpt, ParamsOpt, StageOutOpt, SchedulerOpt, WorkersOpt, app, executor_for, shard_bytes, stage_command,
)
from pipelines.params import param


@app.command("replay")
def replay_command(
    out: str = StageOutOpt,
    only: List[str] = typer.Option([], "--source", help="read only these sources (names under replay.sources)"),
    workers: Optional[int] = WorkersOpt,
    scheduler: Optional[str] = SchedulerOpt,
    metrics: Optional[Path] = MetricsOpt,
    params_file: Optional[Path] = ParamsOpt,
) -> None:
    """Parse the replay sources of params.yaml (replay.sources) into documents.

    Formats: reuters_sgml, newsgroups_tar, jsonl, parquet, hf (datasets.load_dataset, offline).
    Unreadable inputs and records go to DIR/errors; the run goes on.
    """
    from pipelines.stages import replay as stage
    from sources.replay.spec import ReplaySource

    with stage_command(params_file, out, metrics) as params:
        configured = param(params, "replay.sources") or {}
        missing = sorted(set(only) - set(configured))
        if missing:
            raise ValueError(f"no replay source named {missing} in replay.sources (have: {sorted(configured)})")
        names = only or sorted(configured)
        if not names:
            raise ValueError("no replay sources: add them under replay.sources in params.yaml")
        sources = [ReplaySource.from_params(name, configured[name]) for name in names]
        with executor_for(params, workers, scheduler) as executor:
            stage.run(sources, out, executor, shard_bytes(params))
