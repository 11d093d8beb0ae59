"""`medcurate mix|card`: the final train/validation shards and the dataset card."""
from pathlib import Path
from typing import List, Optional

import typer

from pipelines.cli_common import (
    MetricsOpt, OutOpt, ParamsOpt, SchedulerOpt, WorkersOpt, app, cli_errors, copy_metrics, executor_for, shard_bytes,
)
from pipelines.params import load_params, param, pick


@app.command("mix")
def mix_command(
    inputs: List[Path] = typer.Argument(..., help="stage folders (or shards) of documents"),
    out: Path = OutOpt,
    workers: Optional[int] = WorkersOpt,
    scheduler: Optional[str] = SchedulerOpt,
    metrics: Optional[Path] = MetricsOpt,
    params_file: Optional[Path] = ParamsOpt,
) -> None:
    """Split into DIR/train and DIR/validation by a hash of each id (share per subset)."""
    from pipelines.stages import mix as stage

    with cli_errors():
        params = load_params(params_file)
        defaults = stage.MixSettings()
        settings = stage.MixSettings(
            validation_share=param(params, "mix.validation_share", defaults.validation_share),
            salt=str(param(params, "mix.salt", defaults.salt)),
        )
        with executor_for(params, workers, scheduler) as executor:
            stage.run(inputs, out, settings, executor, shard_bytes(params))
        copy_metrics(out, metrics)


@app.command("card")
def card_command(
    mix_dir: Path = typer.Argument(..., help="the mix stage folder (train/, validation/)"),
    out: Path = OutOpt,
    upstream: List[Path] = typer.Option([], "--upstream", help="earlier stage folders whose stats.json form the funnel"),
    name: Optional[str] = typer.Option(None, "--name", help="pretty name of the dataset [params: card.name]"),
    params_file: Optional[Path] = ParamsOpt,
) -> None:
    """Write the dataset card (README.md) from the shards and stage statistics."""
    from pipelines.stages import card as stage

    with cli_errors():
        params = load_params(params_file)
        if not mix_dir.is_dir():
            raise ValueError(f"mix folder not found: {mix_dir}")
        stage.run(mix_dir, out, upstream, pick(name, params, "card.name", "medcurate corpus"))
        typer.echo(f"card: {out / 'README.md'}", err=True)
