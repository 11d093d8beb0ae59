"""The `medcurate` command line: the app, shared options and error handling.

Commands live in pipelines/commands/, one module per group, each registering on `app`
(`command_group`). A stage command runs in `stage_command`, a fetch command in
pipelines/cli_fetch.py `fetch_command`; options several commands share are one `option_group`.
docs/sources.md says how a source is added.

Every option defaults to params.yaml (`--params FILE` for another); heavy imports happen inside
the commands so that `--help` stays fast. Exit status 0 when the stage completed (also when some
inputs went to the error ledger), 1 with a one-line message when it could not run.
"""
import contextlib
import dataclasses
import functools
import inspect
import json
import sqlite3
import typing
from pathlib import Path
from typing import Iterator, Optional

import typer

from pipelines.params import load_params, param, pick

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    # Plain help pages: `[params: run.workers]` and `YYYY[/MM[/DD]]` are shown as written, never
    # read as rich markup (which ate the first and crashed on the second), and a flag is shown
    # without the `<bool>` value it does not take.
    rich_markup_mode=None,
    help="medcurate: build a medical continued-pretraining corpus (PubMed, PMC, guidelines, replay) and train on it.",
)


def command_group(name: str, help: str) -> typer.Typer:  # noqa: A002 - typer's own keyword
    """A `medcurate NAME ...` group of commands (pubmed, pmc, guidelines, tokenizer)."""
    group = typer.Typer(no_args_is_help=True, help=help)
    app.add_typer(group, name=name)
    return group


ParamsOpt = typer.Option(None, "--params", help="params file (default: ./params.yaml)")
WorkersOpt = typer.Option(None, "--workers", help="Dask worker processes on this machine [params: run.workers; default: cores]")
SchedulerOpt = typer.Option(
    None,
    "--scheduler",
    envvar="MEDCURATE_SCHEDULER",
    help="address of an existing Dask scheduler (tcp://host:8786), or 'sync' to run in-process [params: run.scheduler]",
)
OutOpt = typer.Option(..., "--out", help="output folder")
# A stage's output and inputs may be object-store URLs (curation/storage.py); raw stores stay local.
StageOutOpt = typer.Option(..., "--out", help="output folder: a path or a URL (s3://bucket/prefix, gs://…, az://…; docs/cluster.md)")
MetricsOpt = typer.Option(None, "--metrics", help="also write the stage's stats.json here (a DVC metrics file)")


def option_group(command):
    """Options that several commands share, declared once as a dataclass whose fields default to
    `typer.Option(...)`: a command's parameter annotated with that dataclass becomes those options
    on the command line, and the command receives them as one value."""
    signature = inspect.signature(command)
    group = next(p for p in signature.parameters.values() if dataclasses.is_dataclass(p.annotation))
    hints = typing.get_type_hints(group.annotation)
    fields = dataclasses.fields(group.annotation)
    options = [inspect.Parameter(f.name, inspect.Parameter.KEYWORD_ONLY, default=f.default, annotation=hints[f.name]) for f in fields]

    @functools.wraps(command)
    def with_options(**values):
        grouped = group.annotation(**{f.name: values.pop(f.name) for f in fields})
        return command(**values, **{group.name: grouped})

    with_options.__signature__ = signature.replace(parameters=[p for p in signature.parameters.values() if p is not group] + options)
    return with_options


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
    except sqlite3.Error as error:  # a damaged store manifest (sources/pmc/cloud/manifest.py)
        typer.echo(f"medcurate: error: SQLite: {error}", err=True)
        raise typer.Exit(1)


@contextlib.contextmanager
def stage_command(params_file: Optional[Path], out: str, metrics: Optional[Path]) -> Iterator[dict]:
    """The frame of a stage command: errors as one line (`cli_errors`), params.yaml loaded and
    yielded to the body, then, once the body has completed, stats.json copied to `--metrics`."""
    with cli_errors():
        params = load_params(params_file)
        configure_storage(params)
        yield params
        copy_metrics(out, metrics)


def configure_storage(params: dict) -> None:
    """run.storage_options for the URL folders this command (and its local workers) opens."""
    from curation import storage

    storage.configure(param(params, "run.storage_options"))


def executor_for(params: dict, workers: Optional[int], scheduler: Optional[str]):
    from pipelines.executor import Executor

    return Executor(pick(workers, params, "run.workers"), pick(scheduler, params, "run.scheduler"))


def shard_bytes(params: dict) -> int:
    return int(param(params, "run.shard_mb") * 1024 * 1024)


def copy_metrics(out: str, metrics: Optional[Path]) -> None:
    if metrics is not None:
        from curation import storage

        storage.write_json(metrics, storage.read_json(storage.join(out, "stats.json")))
