"""A stage's per-source counts and histograms: written per task, merged into DIR/stats.json.

Tasks write DIR/_stats/part-TTTTT-0000.json (the `part-` name makes the runner clear it with the
task's other files when the task is redone or the plan changes). After the run, the merge adds
`by_source` and `histograms` to stats.json and writes DIR/plots/length_<measure>.csv for DVC plots.
"""
from __future__ import annotations

import csv
import json
from pathlib import Path

from curation.stats import MEASURES, StageStats
from curation.atomic import write_json_atomic
from curation.task_output import TaskOutput

STATS_DIR = "_stats"
PLOTS_DIR = "plots"


def save_task_stats(output: TaskOutput, stats: StageStats) -> None:
    write_json_atomic(output.out_dir / STATS_DIR / f"part-{output.task:05d}-0000.json", stats.to_dict())


def merge_stage_stats(out_dir: Path, extra: dict | None = None) -> dict:
    out_dir = Path(out_dir)
    merged = StageStats()
    for path in sorted((out_dir / STATS_DIR).glob("part-*.json")):
        merged.merge(json.loads(path.read_text(encoding="utf-8")))
    stats_path = out_dir / "stats.json"
    stats = json.loads(stats_path.read_text(encoding="utf-8"))
    stats.update(merged.to_dict())
    stats.update(extra or {})
    write_json_atomic(stats_path, stats)
    plots = out_dir / PLOTS_DIR
    plots.mkdir(exist_ok=True)
    for measure in MEASURES:
        path = plots / f"length_{measure}.csv"
        tmp = path.with_name(path.name + ".tmp")
        with open(tmp, "w", newline="", encoding="utf-8") as handle:
            writer = csv.DictWriter(handle, fieldnames=[measure, "documents_in", "documents_out"], lineterminator="\n")
            writer.writeheader()
            writer.writerows(merged.plot_rows(measure))
        tmp.replace(path)
    return stats
