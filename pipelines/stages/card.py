"""`medcurate card`: count the mix shards and upstream stats, and write the dataset card."""
from __future__ import annotations

import json
import os
from collections import defaultdict
from pathlib import Path

import pyarrow.compute as pc
import pyarrow.parquet as pq

from curation.card import render_card
from curation.shards import list_shards
from curation.task_output import write_json_atomic

STAGE = "card"


def count_split(folder: Path, by_source_split: dict, licenses: dict, split: str) -> None:
    for shard in list_shards(folder):
        table = pq.read_table(shard, columns=["source", "text", "license"])
        lengths = pc.utf8_length(table["text"]).to_pylist()
        for source, length, license_name in zip(table["source"].to_pylist(), lengths, table["license"].to_pylist()):
            numbers = by_source_split[source][split]
            numbers["documents"] += 1
            numbers["characters"] += length
            licenses[license_name or "unspecified"] += 1


def run(mix_dir: Path, out_dir: Path, upstream: list[Path], name: str) -> dict:
    splits = sorted(p.name for p in mix_dir.iterdir() if p.is_dir() and not p.name.startswith("_") and list_shards(p))
    by_source_split: dict = defaultdict(lambda: defaultdict(lambda: {"documents": 0, "characters": 0}))
    licenses: dict = defaultdict(int)
    for split in splits:
        count_split(mix_dir / split, by_source_split, licenses, split)
    funnel = []
    for folder in [*upstream, mix_dir]:
        stats_file = Path(folder) / "stats.json"
        if stats_file.is_file():
            stats = json.loads(stats_file.read_text())
            funnel.append((stats.get("stage", Path(folder).name), stats))
    out_dir.mkdir(parents=True, exist_ok=True)
    prefix = os.path.relpath(mix_dir, out_dir).replace(os.sep, "/") + "/"
    card = render_card(name, by_source_split, licenses, funnel, splits, "" if prefix == "./" else prefix)
    tmp = out_dir / "README.md.tmp"
    tmp.write_text(card, encoding="utf-8")
    tmp.replace(out_dir / "README.md")
    summary = {
        "stage": STAGE,
        "documents": {split: sum(by_source_split[s][split]["documents"] for s in by_source_split) for split in splits},
        "sources": sorted(by_source_split),
    }
    write_json_atomic(out_dir / "stats.json", summary)
    return summary
