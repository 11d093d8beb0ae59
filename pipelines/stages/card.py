"""`medcurate card`: count the mix and the upstream ledgers, draw the plots, write the card.

Output (default: into the mix folder, so that it is a Hugging Face dataset repository):
README.md, LICENSE (the per-record licence note the card's `license_link` points at) and
plots/*.png.
"""
from __future__ import annotations

import os
from typing import Any, Mapping

from curation import storage
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


def run(mix_dir: str | os.PathLike, out_dir: str | os.PathLike, upstream: list[str | os.PathLike], name: str,
        params: Mapping[str, Any] | None = None) -> dict:
    mix_dir, out_dir = storage.norm(mix_dir), storage.norm(out_dir)
    stats = collect(mix_dir, stage_folders(upstream))
    if not stats.splits:
        raise ValueError(f"{mix_dir}: no train/ or validation/ shards to describe")
    manifest_file = storage.join(mix_dir, MANIFEST)
    manifest = storage.read_json(manifest_file) if storage.isfile(manifest_file) else {}
    storage.makedirs(out_dir)
    draw_all(stats, storage.join(out_dir, "plots"))
    card = render_card(name, stats, manifest, dict(params or {}), _link_prefix(mix_dir, out_dir))
    storage.write_bytes(storage.join(out_dir, "LICENSE"), ("# Licences of this dataset\n\n" + licensing_text(stats) + "\n").encode("utf-8"))
    storage.write_bytes(storage.join(out_dir, "README.md"), card.encode("utf-8"))
    return summary(stats)


def _link_prefix(mix_dir: str, out_dir: str) -> str:
    """How the card links to the mix's files: relative where both are local ("" when the card is
    in the mix folder); the mix's URL otherwise."""
    if mix_dir == out_dir:
        return ""
    if storage.is_local(mix_dir) and storage.is_local(out_dir):
        return os.path.relpath(mix_dir, out_dir).replace(os.sep, "/") + "/"
    return mix_dir + "/"
