"""`medcurate filter|dedup`: cleaning, language, quality and dedup over documents of any source."""
from pathlib import Path
from typing import List, Optional

import typer

from pipelines.cli_common import (
    MetricsOpt, ParamsOpt, StageOutOpt, SchedulerOpt, WorkersOpt, app, executor_for, shard_bytes, stage_command,
)
from pipelines.params import param

PlotsOpt = typer.Option(None, "--plots", help="also copy the stage's length histograms (CSV, DVC plots) into this folder")


def copy_plots(out: str, plots: Optional[Path], stage: str) -> None:
    """DIR/plots/length_<measure>.csv -> PLOTS/<stage>_length_<measure>.csv (DIR may be a URL)."""
    if plots is None:
        return
    from curation import storage

    for path in storage.files(storage.join(out, "plots"), "*.csv"):
        storage.write_bytes(plots / f"{stage}_{storage.name(path)}", storage.read_bytes(path))


@app.command("filter")
def filter_command(
    inputs: List[str] = typer.Argument(..., help="stage folders (or shards), paths or URLs of documents; a folder of stage folders (data/parsed/guidelines) stands for each"),
    out: str = StageOutOpt,
    workers: Optional[int] = WorkersOpt,
    scheduler: Optional[str] = SchedulerOpt,
    metrics: Optional[Path] = MetricsOpt,
    plots: Optional[Path] = PlotsOpt,
    params_file: Optional[Path] = ParamsOpt,
) -> None:
    """Clean text, then length, language (langdetect, seeded) and quality rules (Gopher, C4, FineWeb),
    per source as params.yaml `filter:` says; every drop goes to the ledger with its rule's code."""
    from pipelines.stages import filter as stage

    with stage_command(params_file, out, metrics) as params:
        # The mapping as written: per-source overrides merge over it, and each rule fills in its defaults.
        settings = stage.FilterSettings(config=params.get("filter") or {}, seed=param(params, "seed"))
        with executor_for(params, workers, scheduler) as executor:
            stage.run(inputs, out, settings, executor, shard_bytes(params))
        copy_plots(out, plots, "filter")


def dedup_settings(params: dict, benchmarks: List[str], ngram: Optional[int], bands: Optional[int], rows: Optional[int]):
    """params.yaml `dedup:` as DedupSettings, with the command line's values on top."""
    from dataclasses import replace

    from curation.config import from_mapping
    from curation.dedup.settings import DedupSettings

    settings = from_mapping(DedupSettings, params.get("dedup"), "dedup")
    minhash = {k: v for k, v in (("num_bands", bands), ("rows_per_band", rows)) if v is not None}
    return replace(
        settings,
        minhash=replace(settings.minhash, **minhash),
        decontam=replace(settings.decontam, **({} if ngram is None else {"n_grams": ngram})),
        # Like every option: given on the command line, it replaces the params.yaml list.
        benchmarks=tuple(benchmarks) or settings.benchmarks,
    )


@app.command("dedup")
def dedup_command(
    inputs: List[str] = typer.Argument(..., help="stage folders (or shards), paths or URLs of documents, all sources together; a folder of stage folders stands for each"),
    out: str = StageOutOpt,
    benchmark: List[str] = typer.Option(
        [], "--benchmark", help="test set to decontaminate against: JSONL items or a .txt PMID list; NAME=FILE names it (repeatable; replaces params: dedup.benchmarks)"
    ),
    ngram: Optional[int] = typer.Option(None, "--decontam-ngram", help="word n-gram size for decontamination [params: dedup.decontamination.n_grams; default 13]"),
    bands: Optional[int] = typer.Option(None, "--bands", help="LSH bands [params: dedup.minhash.num_bands; default 20]"),
    rows: Optional[int] = typer.Option(None, "--rows", help="rows per LSH band [params: dedup.minhash.rows_per_band; default 6]"),
    workers: Optional[int] = WorkersOpt,
    scheduler: Optional[str] = SchedulerOpt,
    metrics: Optional[Path] = MetricsOpt,
    plots: Optional[Path] = PlotsOpt,
    params_file: Optional[Path] = ParamsOpt,
) -> None:
    """Benchmark decontamination, then exact (normalised text), identifier (PMID, PMCID, DOI) and
    near-duplicate (MinHash LSH) dedup across every input; the ledger names each survivor."""
    from pipelines.stages import dedup as stage

    with stage_command(params_file, out, metrics) as params:
        settings = dedup_settings(params, benchmark, ngram, bands, rows)
        with executor_for(params, workers, scheduler) as executor:
            stage.run(inputs, out, executor, shard_bytes(params), settings)
        copy_plots(out, plots, "dedup")
