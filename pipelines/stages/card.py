"""`medcurate card`: count the mix and the upstream ledgers, draw the plots, write the card.

Output (default: into the mix folder, so that it is a Hugging Face dataset repository):
README.md, LICENSE (the per-record licence note the card's `license_link` points at) and
plots/*.png.
"""
from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any, Mapping

from curation.atomic import write_bytes_atomic
from curation.card import licensing_text, render_card
from curation.card_plots import draw_all
from curation.card_stats import CardStats, collect
from pipelines.stages.inputs import stage_folders

STAGE = "card"
MANIFEST = "manifest.json"


def summary(stats: CardStats) -> dict:
    """The card's numbers as JSON (the stage's metrics)."""
    return {
        "stage": STAGE,
        "documents": {s: stats.total(s, "documents") for s in stats.splits},
        "tokens": {s: stats.total(s, "tokens") for s in stats.splits},
        "sources": {src: {s: vars(cell) for s, cell in per.items()} for src, per in sorted(stats.table.items())},
        "funnel": [{"stage": f.stage, **({"site": f.site} if f.site else {}), "documents_in": f.documents_in,
                    "documents_out": f.documents_out, "reasons": dict(sorted(f.reasons.items()))} for f in stats.funnel],
    }


def run(mix_dir: Path, out_dir: Path, upstream: list[Path], name: str, params: Mapping[str, Any] | None = None) -> dict:
    mix_dir, out_dir = Path(mix_dir), Path(out_dir)
    stats = collect(mix_dir, stage_folders(upstream))
    if not stats.splits:
        raise ValueError(f"{mix_dir}: no train/ or validation/ shards to describe")
    manifest_file = mix_dir / MANIFEST
    manifest = json.loads(manifest_file.read_text()) if manifest_file.is_file() else {}
    out_dir.mkdir(parents=True, exist_ok=True)
    draw_all(stats, out_dir / "plots")
    prefix = os.path.relpath(mix_dir, out_dir).replace(os.sep, "/") + "/"
    card = render_card(name, stats, manifest, dict(params or {}), "" if prefix == "./" else prefix)
    write_bytes_atomic(out_dir / "LICENSE", ("# Licences of this dataset\n\n" + licensing_text(stats) + "\n").encode("utf-8"))
    write_bytes_atomic(out_dir / "README.md", card.encode("utf-8"))
    return summary(stats)
