"""`medcurate filter|dedup`: cleaning, language, quality and dedup over documents of any source."""
from pathlib import Path
from typing import List, Optional

import typer

from pipelines.cli_common import (
    MetricsOpt, OutOpt, ParamsOpt, SchedulerOpt, WorkersOpt, app, executor_for, shard_bytes, stage_command,
)
from pipelines.params import param

PlotsOpt = typer.Option(None, "--plots", help="also copy the stage's length histograms (CSV, DVC plots) into this folder")


def copy_plots(out: Path, plots: Optional[Path], stage: str) -> None:
    """DIR/plots/length_<measure>.csv -> PLOTS/<stage>_length_<measure>.csv."""
    if plots is None:
        return
    import shutil

    plots.mkdir(parents=True, exist_ok=True)
    for path in sorted((out / "plots").glob("*.csv")):
        shutil.copyfile(path, plots / f"{stage}_{path.name}")


@app.command("filter")
def filter_command(
    inputs: List[Path] = typer.Argument(..., help="stage folders (or shards) of documents"),
    out: Path = OutOpt,
    workers: Optional[int] = WorkersOpt,
    scheduler: Optional[str] = SchedulerOpt,
    metrics: Optional[Path] = MetricsOpt,
    plots: Optional[Path] = PlotsOpt,
    params_file: Optional[Path] = ParamsOpt,
) -> None:
    """Clean text, then length, language (CLD2; langdetect, seeded, where CLD2 is unsure) and quality
    rules (Gopher, C4, FineWeb), per source as params.yaml `filter:` says; every drop goes to the
    ledger with its rule's code."""
    from pipelines.stages import filter as stage

    with stage_command(params_file, out, metrics) as params:
        settings = stage.FilterSettings(config=param(params, "filter", {}) or {}, seed=param(params, "seed", 0))
        with executor_for(params, workers, scheduler) as executor:
            stage.run(inputs, out, settings, executor, shard_bytes(params))
        copy_plots(out, plots, "filter")


def dedup_settings(params: dict, benchmarks: List[str], ngram: Optional[int], bands: Optional[int], rows: Optional[int]):
    from curation.dedup.decontam import DecontamConfig
    from curation.dedup.minhash import MinhashConfig
    from curation.filters import config_from
    from curation.dedup.settings import DedupSettings

    section = dict(param(params, "dedup", {}) or {})
    minhash = dict(section.pop("minhash", {}) or {})
    for key, value in (("num_bands", bands), ("rows_per_band", rows)):
        if value is not None:
            minhash[key] = value
    decontam = dict(section.pop("decontamination", {}) or {})
    if ngram is not None:
        decontam["n_grams"] = ngram
    listed = section.pop("benchmarks", []) or []
    section.setdefault("partitions", 16)
    for key in ("identifiers",):
        if key in section:
            section[key] = tuple(section[key])
    return DedupSettings(
        minhash=config_from(MinhashConfig, minhash),
        decontam=config_from(DecontamConfig, decontam),
        # Like every option: given on the command line, it replaces the params.yaml list.
        benchmarks=tuple(benchmarks or listed),
        **section,
    )


@app.command("dedup")
def dedup_command(
    inputs: List[Path] = typer.Argument(..., help="stage folders (or shards) of documents, all sources together"),
    out: Path = OutOpt,
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
