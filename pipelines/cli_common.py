"""The `medcurate` command line: the app, shared options and error handling.

Commands live in pipelines/commands/, one module per group, each registering on `app`.

Every option defaults to params.yaml (`--params FILE` for another); heavy imports happen inside
the commands so that `--help` stays fast. Exit status 0 when the stage completed (also when some
inputs went to the error ledger), 1 with a one-line message when it could not run.
"""
import contextlib
import json
from pathlib import Path
from typing import Iterator, Optional

import typer

from pipelines.params import load_params, param, pick

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    help="medcurate: build a medical continued-pretraining corpus (PubMed, PMC, guidelines, replay) and train on it.",
)

ParamsOpt = typer.Option(None, "--params", help="params file (default: ./params.yaml)")
WorkersOpt = typer.Option(
    None, "--workers",
    help="Dask worker processes on this machine, at most: one per run.mb_per_worker of input; one runs in-process [params: run.workers; default: cores]",
)
SchedulerOpt = typer.Option(
    None,
    "--scheduler",
    envvar="MEDCURATE_SCHEDULER",
    help="address of an existing Dask scheduler (tcp://host:8786), or 'sync' to run in-process [params: run.scheduler]",
)
OutOpt = typer.Option(..., "--out", help="output folder")
MetricsOpt = typer.Option(None, "--metrics", help="also write the stage's stats.json here (a DVC metrics file)")


@contextlib.contextmanager
def cli_errors() -> Iterator[None]:
    """Turn the failures a user can act on into one line and exit status 1."""
    from curation.accounting import AccountingError
    from pipelines.params import ParamsError
    from pipelines.stages.inputs import NoInputsError
    from sources.errors import SourceError

    try:
        yield
    except (SourceError, ParamsError, NoInputsError, AccountingError, OSError, ValueError) as error:
        typer.echo(f"medcurate: error: {error}", err=True)
        raise typer.Exit(1)


@contextlib.contextmanager
def stage_command(params_file: Optional[Path], out: Path, metrics: Optional[Path]) -> Iterator[dict]:
    """The frame of a stage command: errors as one line (`cli_errors`), params.yaml loaded and
    yielded to the body, then, once the body has completed, stats.json copied to `--metrics`."""
    with cli_errors():
        params = load_params(params_file)
        yield params
        copy_metrics(out, metrics)


def executor_for(params: dict, workers: Optional[int], scheduler: Optional[str]):
    from pipelines.executor import Executor

    mb_per_worker = float(param(params, "run.mb_per_worker", 64))
    return Executor(pick(workers, params, "run.workers"), pick(scheduler, params, "run.scheduler"), int(mb_per_worker * 1024 * 1024))


# The http: block of params.yaml, as shipped (tests/pipelines/test_cli_common.py keeps them equal).
HTTP_DEFAULTS = {"timeout": 30.0, "retries": 6, "deadline": 600.0,
                 "max_response_bytes": 64 << 20, "max_download_bytes": 8 << 30}


def http_client(params: dict, **overrides):
    """The project's HttpClient configured from params.yaml's `http:` block, for every command.

    `http.timeout` (seconds per connect and per wait for bytes), `http.retries` (attempts after the
    first), `http.deadline` (seconds one attempt may take in all; null for none),
    `http.max_response_bytes` (an answer read into memory) and `http.max_download_bytes` (one
    downloaded object), each falling back to HTTP_DEFAULTS. `overrides` are further HttpClient
    keyword arguments (e.g. `allowed_hosts=...`) and win over params.
    """
    from sources.http import HttpClient

    deadline = param(params, "http.deadline", HTTP_DEFAULTS["deadline"])
    settings = {
        "timeout": float(param(params, "http.timeout", HTTP_DEFAULTS["timeout"])),
        "retries": int(param(params, "http.retries", HTTP_DEFAULTS["retries"])),
        "deadline": float(deadline) if deadline else None,
        "max_response_bytes": int(param(params, "http.max_response_bytes", HTTP_DEFAULTS["max_response_bytes"])),
        "max_download_bytes": int(param(params, "http.max_download_bytes", HTTP_DEFAULTS["max_download_bytes"])),
    }
    return HttpClient(**{**settings, **overrides})


def shard_bytes(params: dict) -> int:
    return int(param(params, "run.shard_mb", 64) * 1024 * 1024)


def copy_metrics(out: Path, metrics: Optional[Path]) -> None:
    if metrics is not None:
        from curation.task_output import write_json_atomic

        write_json_atomic(metrics, json.loads((out / "stats.json").read_text(encoding="utf-8")))
