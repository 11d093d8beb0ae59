"""The dataset card (README.md of the output folder), built only from measured numbers."""
from __future__ import annotations

from typing import Mapping

import yaml


def size_category(n: int) -> str:
    bounds = [(1_000, "n<1K"), (10_000, "1K<n<10K"), (100_000, "10K<n<100K"), (1_000_000, "100K<n<1M"), (10_000_000, "1M<n<10M")]
    for bound, label in bounds:
        if n < bound:
            return label
    return "n>10M"


def render_card(
    name: str,
    by_source_split: Mapping[str, Mapping[str, Mapping[str, int]]],
    licenses: Mapping[str, int],
    funnel: list[tuple[str, Mapping]],
    splits: list[str],
    data_prefix: str = "",
) -> str:
    """Markdown with YAML front matter.

    `by_source_split[source][split] = {"documents": n, "characters": c}`; `funnel` is a list of
    (stage, stats.json) in pipeline order; every figure printed comes from those arguments.
    `data_prefix` is the path from the card's folder to the split folders.
    """
    total_docs = sum(v["documents"] for per in by_source_split.values() for v in per.values())
    header = {
        "pretty_name": name,
        "license": "other",
        "language": ["en"],
        "size_categories": [size_category(total_docs)],
        "task_categories": ["text-generation"],
        "configs": [
            {"config_name": "default", "data_files": [{"split": s, "path": f"{data_prefix}{s}/*.parquet"} for s in splits]}
        ],
    }
    lines = ["---", yaml.safe_dump(header, sort_keys=False).rstrip(), "---", "", f"# {name}", ""]
    lines += [
        "A medical continued-pretraining corpus built by medcurate. Every number below was counted",
        "from the shards and ledgers of this build.",
        "",
        "## Documents per source and split",
        "",
        "| source | " + " | ".join(f"{s} documents | {s} characters" for s in splits) + " |",
        "|---|" + "---|---|" * len(splits),
    ]
    for source in sorted(by_source_split):
        cells = []
        for split in splits:
            numbers = by_source_split[source].get(split, {"documents": 0, "characters": 0})
            cells += [f"{numbers['documents']:,}", f"{numbers['characters']:,}"]
        lines.append(f"| {source} | " + " | ".join(cells) + " |")
    lines += ["", f"Total: {total_docs:,} documents.", "", "## Licences (per record)", "", "| licence | documents |", "|---|---|"]
    for license_name, n in sorted(licenses.items()):
        lines.append(f"| {license_name} | {n:,} |")
    lines += ["", "## Curation funnel", "", "| stage | in | out | ledgered | unreadable records | input errors | reasons |", "|---|---|---|---|---|---|---|"]
    for stage, stats in funnel:
        reasons = ", ".join(f"{r}: {n:,}" for r, n in sorted(stats.get("reasons", {}).items())) or "-"
        lines.append(
            f"| {stage} | {stats['documents_in']:,} | {stats['documents_out']:,} | {stats['ledgered']:,} | "
            f"{stats['record_errors']:,} | {stats['input_errors']:,} | {reasons} |"
        )
    lines += [
        "",
        "## Reproduce",
        "",
        "`dvc repro` in the medcurate repository, with the params.yaml recorded in dvc.lock.",
        "",
    ]
    return "\n".join(lines)
