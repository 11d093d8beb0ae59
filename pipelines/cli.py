"""The `medcurate` command line: thin commands over pipelines.stages and the sources.

Every option defaults to params.yaml (`--params FILE` for another); heavy imports happen inside
the commands so that `--help` stays fast. Exit status 0 when the stage completed (also when some
inputs went to the error ledger), 1 with a one-line message when it could not run.
"""
import contextlib
import json
import logging
import sys
from pathlib import Path
from typing import Iterator, List, Optional

import typer

from pipelines.params import load_params, param, pick

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    help="medcurate: build a medical continued-pretraining corpus (PubMed, PMC, guidelines, replay) and train on it.",
)
pubmed_app = typer.Typer(no_args_is_help=True, help="PubMed abstracts: bulk files, E-utilities search, XML parsing.")
app.add_typer(pubmed_app, name="pubmed")

log = logging.getLogger("medcurate")

ParamsOpt = typer.Option(None, "--params", help="params file (default: ./params.yaml)")
WorkersOpt = typer.Option(None, "--workers", help="Dask worker processes on this machine [params: run.workers; default: cores]")
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


def _executor(params: dict, workers: Optional[int], scheduler: Optional[str]):
    from pipelines.executor import Executor

    return Executor(pick(workers, params, "run.workers"), pick(scheduler, params, "run.scheduler"))


def _shard_bytes(params: dict) -> int:
    return int(param(params, "run.shard_mb", 64) * 1024 * 1024)


def _copy_metrics(out: Path, metrics: Optional[Path]) -> None:
    if metrics is not None:
        from curation.task_output import write_json_atomic

        write_json_atomic(metrics, json.loads((out / "stats.json").read_text(encoding="utf-8")))


@pubmed_app.command("fetch")
def pubmed_fetch(
    out: Path = OutOpt,
    base_url: Optional[str] = typer.Option(None, "--base-url", help="root of the PubMed tree, holding baseline/ and updatefiles/ [params: pubmed.base_url]"),
    limit: Optional[int] = typer.Option(None, "--limit", help="fetch at most N data files"),
    params_file: Optional[Path] = ParamsOpt,
) -> None:
    """Download baseline and update files with their .md5 into a verified raw store."""
    from pipelines.cli_pubmed_remote import fetch_command

    with cli_errors():
        fetch_command(base_url, out, limit, params_file)


@pubmed_app.command("search")
def pubmed_search(
    query: str = typer.Argument(..., help="an Entrez query, e.g. 'asthma[mesh] AND 2020[pdat]'"),
    out: Path = OutOpt,
    max_records: Optional[int] = typer.Option(None, "--max", help="fetch at most N records"),
    mindate: Optional[str] = typer.Option(None, "--mindate", help="YYYY[/MM[/DD]] publication date from"),
    maxdate: Optional[str] = typer.Option(None, "--maxdate", help="YYYY[/MM[/DD]] publication date to"),
    params_file: Optional[Path] = ParamsOpt,
) -> None:
    """Search PubMed through E-utilities (history server, batched efetch) into a raw store.

    The API key is read from NCBI_API_KEY and never written anywhere.
    """
    from pipelines.cli_pubmed_remote import search_command

    with cli_errors():
        search_command(query, out, max_records, mindate, maxdate, params_file)


@pubmed_app.command("parse")
def pubmed_parse(
    inputs: List[Path] = typer.Argument(..., help="PubMed XML files (.xml, .xml.gz) or folders of them"),
    out: Path = OutOpt,
    workers: Optional[int] = WorkersOpt,
    scheduler: Optional[str] = SchedulerOpt,
    metrics: Optional[Path] = MetricsOpt,
    params_file: Optional[Path] = ParamsOpt,
) -> None:
    """Parse PubMed XML into documents: title + abstract, versions and deletions applied."""
    from pipelines.stages import pubmed_parse as stage

    with cli_errors():
        params = load_params(params_file)
        with _executor(params, workers, scheduler) as executor:
            stage.run(inputs, out, executor, _shard_bytes(params))
        _copy_metrics(out, metrics)


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
        with _executor(params, workers, scheduler) as executor:
            stage.run(inputs, out, settings, executor, _shard_bytes(params))
        _copy_metrics(out, metrics)


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
        with _executor(params, workers, scheduler) as executor:
            stage.run(inputs, out, executor, _shard_bytes(params))
        _copy_metrics(out, metrics)


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
        with _executor(params, workers, scheduler) as executor:
            stage.run(inputs, out, settings, executor, _shard_bytes(params))
        _copy_metrics(out, metrics)


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


def main() -> None:
    logging.basicConfig(level=logging.INFO, format="%(name)s: %(message)s", stream=sys.stderr)
    app()


if __name__ == "__main__":
    main()
