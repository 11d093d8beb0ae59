"""`medcurate summary`: one screen of what a pipeline run did, from the stages' metrics files."""
import json
from pathlib import Path

import typer

from pipelines.cli_common import app

# Pipeline order; a stage whose file is missing (not run yet) is skipped.
STAGE_FILES = ["pubmed_parse", "pmc_parse", "guidelines_parse_*", "replay", "filter", "dedup", "mix"]


def _rows(metrics: Path) -> list[tuple[str, dict]]:
    rows = []
    for pattern in STAGE_FILES:
        for path in sorted(metrics.glob(f"{pattern}.json")):
            rows.append((path.stem, json.loads(path.read_text(encoding="utf-8"))))
    return rows


def _keep_rates(stats: dict | None) -> list[str]:
    """The filter's keep rate and top drop reasons per source (its metrics' `by_source`)."""
    if not stats or not stats.get("by_source"):
        return []
    from curation.card_stats import source_keep_rates

    by_source = stats["by_source"]
    rates = source_keep_rates({s: v["out"] for s, v in by_source.items()}, {s: v["dropped"] for s, v in by_source.items()})
    lines = [f"{'filter, per source':<28}{'in':>9}{'out':>9}{'kept':>9}{'':>8}  top reasons"]
    for r in rates:
        reasons = ", ".join(f"{code} {n:,}" for code, n in r.top_reasons)
        lines.append(f"  {r.source:<26}{r.documents_in:>9,}{r.documents_out:>9,}{r.kept:>9.1%}{'':>8}  {reasons}".rstrip())
    return lines


def format_summary(metrics: Path) -> str:
    lines = [f"{'stage':<28}{'in':>9}{'out':>9}{'ledger':>9}{'errors':>8}  top reasons"]
    for name, stats in _rows(metrics):
        reasons = sorted(stats.get("reasons", {}).items(), key=lambda kv: (-kv[1], kv[0]))[:3]
        errors = stats.get("record_errors", 0) + stats.get("input_errors", 0)
        lines.append(
            f"{name:<28}{stats['documents_in']:>9,}{stats['documents_out']:>9,}{stats['ledgered']:>9,}{errors:>8,}  "
            + ", ".join(f"{r} {n:,}" for r, n in reasons)
        )
    lines += _keep_rates(dict(_rows(metrics)).get("filter"))
    mix = metrics / "mix.json"
    if mix.is_file():
        totals = json.loads(mix.read_text()).get("mix", {}).get("totals", {})
        for split, t in sorted(totals.items()):
            lines.append(f"mix {split:<24}{t['documents']:>9,} documents, {t['tokens']:,} tokens")
    train = metrics / "train.json"
    if train.is_file():
        t = json.loads(train.read_text())
        lines.append(
            f"train: {t['steps']} steps, {t['tokens']:,} tokens, loss {t['loss_first']:.3f} -> {t['loss_last']:.3f}, "
            f"val loss {t['val_loss']:.3f}, {t['tokens_per_s_per_device']:,.0f} tokens/s per device"
        )
    return "\n".join(lines)


@app.command("summary")
def summary_command(
    metrics: Path = typer.Option(Path("metrics"), "--metrics", help="folder of the stages' --metrics files"),
) -> None:
    """Print the documents in/out/ledgered of every stage, the filter's keep rate per source, the mix and the training run."""
    if not metrics.is_dir():
        typer.echo(f"medcurate: error: no metrics folder at {metrics}", err=True)
        raise typer.Exit(1)
    typer.echo(format_summary(metrics))
