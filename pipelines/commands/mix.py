"""`medcurate mix|card`: the final train/validation shards and the dataset card."""
from pathlib import Path
from typing import List, Optional

import typer

from pipelines.cli_common import (
    MetricsOpt, ParamsOpt, StageOutOpt, SchedulerOpt, WorkersOpt, app, cli_errors, configure_storage, executor_for, stage_command,
)
from pipelines.params import load_params, param, pick


def mix_settings(params: dict, tokenizer: Optional[str], pretokenized: Optional[bool]):
    """MixSettings from params.yaml: mix.* plus the per-source budgets of replay.sources."""
    from curation.config import from_mapping
    from pipelines.stages.mix import MixParams, MixSettings
    from sources.replay.spec import budgets_from_params

    mix = from_mapping(MixParams, params.get("mix"), "mix")
    budgets = {**mix.budgets, **budgets_from_params(param(params, "replay.sources") or {})}
    return MixSettings(
        tokenizer=str(tokenizer or mix.tokenizer),
        budgets=budgets,
        validation_share=mix.validation_share,
        salt=mix.salt,
        seed=param(params, "seed") if mix.seed is None else mix.seed,
        shard_bytes=int(mix.shard_mb * 2**20),
        pretokenized=mix.pretokenized if pretokenized is None else pretokenized,
    )


@app.command("mix")
def mix_command(
    inputs: List[str] = typer.Argument(..., help="stage folders (or shards), paths or URLs, of documents, every source; a folder of stage folders stands for each"),
    out: str = StageOutOpt,
    tokenizer: Optional[str] = typer.Option(None, "--tokenizer", help="tokenizer.model (or its folder; a path or URL) to count tokens with [params: mix.tokenizer]"),
    pretokenized: Optional[bool] = typer.Option(None, "--pretokenized/--no-pretokenized", help="also write token shards [params: mix.pretokenized]"),
    workers: Optional[int] = WorkersOpt,
    scheduler: Optional[str] = SchedulerOpt,
    metrics: Optional[Path] = MetricsOpt,
    params_file: Optional[Path] = ParamsOpt,
) -> None:
    """Budget tokens per subset/source, split by a hash of each id, write shuffled train/validation shards.

    Budgets (mix.budgets, replay.sources.<name>.share|tokens): natural, {tokens: N},
    {factor: f} or {share: s} of the train tokens. DIR/manifest.json has documents and tokens
    per source and split; left-out documents are in DIR/ledger (reason `downsampled`).
    """
    from pipelines.stages import mix as stage

    with stage_command(params_file, out, metrics) as params:
        settings = mix_settings(params, tokenizer, pretokenized)
        with executor_for(params, workers, scheduler) as executor:
            stage.run(inputs, out, settings, executor)


@app.command("card")
def card_command(
    mix_dir: str = typer.Argument(..., help="the mix stage folder (train/, validation/, manifest.json): a path or URL"),
    out: Optional[str] = typer.Option(None, "--out", help="where README.md and plots/ go, a path or URL (default: MIX_DIR, making it a dataset repository)"),
    upstream: List[str] = typer.Option([], "--upstream", help="earlier stage folders, in pipeline order: their shards and ledgers form the funnel (a folder of stage folders stands for each)"),
    name: Optional[str] = typer.Option(None, "--name", help="pretty name of the dataset [params: card.name]"),
    metrics: Optional[Path] = MetricsOpt,
    params_file: Optional[Path] = ParamsOpt,
) -> None:
    """Write the dataset card (README.md + plots/*.png) from the shards and ledgers."""
    from curation import storage
    from pipelines.stages import card as stage

    with cli_errors():
        params = load_params(params_file)
        configure_storage(params)
        if not storage.isdir(mix_dir):
            raise ValueError(f"mix folder not found: {mix_dir}")
        target = out or mix_dir
        numbers = stage.run(mix_dir, target, upstream, pick(name, params, "card.name"), params)
        if metrics is not None:
            from curation.atomic import write_json_atomic

            write_json_atomic(metrics, numbers)
        typer.echo(f"card: {storage.join(target, 'README.md')}", err=True)
