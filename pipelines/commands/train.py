"""`medcurate train --config FILE`: continued pretraining (train/), one process or under torchrun."""
from pathlib import Path
from typing import List

import typer

from pipelines.cli_common import app, cli_errors


@app.command("train")
def train_cli(
    config: Path = typer.Option(..., "--config", help="training config (YAML), e.g. configs/train/tiny-cpu.yaml"),
    overrides: List[str] = typer.Option([], "--set", help="KEY=VALUE override of the config, repeatable (e.g. --set steps=10)"),
) -> None:
    """Train as configured. One process runs directly; under torchrun every process joins the
    group (gloo on CPU, nccl on CUDA). Ends with a summary: steps, tokens, losses, tokens/s, MFU."""
    from train.launch import parse_overrides, run

    with cli_errors():
        run(config, parse_overrides(overrides))
