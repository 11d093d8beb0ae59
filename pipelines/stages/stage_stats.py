"""A stage's per-source counts and histograms: written per task, merged into DIR/stats.json.

Tasks write DIR/_stats/part-TTTTT-0000.json (the `part-` name makes the runner clear it with the
task's other files when the task is redone or the plan changes). After the run, the merge adds
`by_source` and `histograms` to stats.json and writes DIR/plots/length_<measure>.csv for DVC plots.
"""
from __future__ import annotations

import csv
import io
import os

from curation import storage
from curation.stats import MEASURES, StageStats
from curation.task_output import STATS_FILE, TaskOutput

STATS_DIR = "_stats"
PLOTS_DIR = "plots"


def save_task_stats(output: TaskOutput, stats: StageStats) -> None:
    storage.write_json(task_stats_path(output.out_dir, output.task), stats.to_dict())


def task_stats_path(out_dir: str, task: int) -> str:
    return storage.join(out_dir, STATS_DIR, f"part-{task:05d}-0000.json")


def merge_stage_stats(out_dir: str | os.PathLike, extra: dict | None = None) -> dict:
    """Every task's counts (by number: none of an earlier run is read) into stats.json, and the
    length histograms into DIR/plots/."""
    stats_path = storage.join(out_dir, STATS_FILE)
    stats = storage.read_json(stats_path)
    merged = StageStats()
    for task in range(stats["tasks"]):
        merged.merge(storage.read_json(task_stats_path(out_dir, task)))
    stats.update(merged.to_dict())
    stats.update(extra or {})
    storage.write_json(stats_path, stats)
    for measure in MEASURES:
        text = io.StringIO(newline="")
        writer = csv.DictWriter(text, fieldnames=[measure, "documents_in", "documents_out"], lineterminator="\n")
        writer.writeheader()
        writer.writerows(merged.plot_rows(measure))
        storage.write_bytes(storage.join(out_dir, PLOTS_DIR, f"length_{measure}.csv"), text.getvalue().encode("utf-8"))
    return stats
