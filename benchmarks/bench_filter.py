"""The whole filter against datatrove 0.10's Gopher/C4/FineWeb filters, side by side in one run.

    .venv/bin/python benchmarks/bench_filter.py [--per-source N] [--rounds R] [--workers W] [--out FILE]

Needs the `bench` extra (`pip install -e .[bench]`: datatrove 0.10 and spaCy, its English word
tokenizer). Documents: benchmarks/filter_corpus.py (PubMed abstracts, PMC articles, Reuters,
20 Newsgroups, lingua paragraphs in 75 languages), in one seeded order, written as Parquet shards.

Contenders, each run `--rounds` times alternating, best CPU kept:
- `medcurate filter IN --out OUT --workers W` as README runs it, with the project's params.yaml
  (language engine `fast`) and with `filter.language.engine: langdetect` (before this change):
  CPU of every process the command starts (benchmarks/cpu_meter.py);
- the same filter at library level, in this process: each source's cleaner and filters
  (curation.filters.chain) over the documents in memory, CPU of each step recorded, so the
  language step's share of the filter is measured;
- datatrove's GopherRepetitionFilter, GopherQualityFilter, C4QualityFilter and
  FineWebQualityFilter at their defaults, in FineWeb's order: at library level (the steps'
  `run` generators over `Document`s in memory, this process) and as a pipeline
  (`LocalPipelineExecutor`: ParquetReader -> the four filters -> JsonlWriter, W tasks and workers,
  CPU of every process). datatrove's language filter is not run: its fastText model is a
  download, and this machine has no network.
Agreement by source: how often both keep or both drop a document (English sources only mean
something: datatrove keeps every language here). Documents are counted as rows, by position: a
PMID in two Cohen review files is two rows, each kept by the command (dedup ledgers the second).
Each round checks that the library loop keeps the rows the command keeps (`command_vs_library`).
Results: benchmarks/results/filter.json.
"""
from __future__ import annotations

import argparse
import copy
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from collections import Counter, defaultdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import filter_corpus  # noqa: E402

from benchmarks.cpu_meter import Measured  # noqa: E402
from curation.filters.chain import SourceChains  # noqa: E402
from pipelines.params import load_params  # noqa: E402
from realdata import write_shards  # noqa: E402

REPO = filter_corpus.REPO
DATATROVE_PIPELINE = """
import sys
from datatrove.executor import LocalPipelineExecutor
from datatrove.pipeline.filters import C4QualityFilter, FineWebQualityFilter, GopherQualityFilter, GopherRepetitionFilter
from datatrove.pipeline.readers import ParquetReader
from datatrove.pipeline.writers import JsonlWriter

source, out, workers = sys.argv[1], sys.argv[2], int(sys.argv[3])
LocalPipelineExecutor(
    pipeline=[ParquetReader(source, glob_pattern="*.parquet"), GopherRepetitionFilter(), GopherQualityFilter(),
              C4QualityFilter(), FineWebQualityFilter(), JsonlWriter(out)],
    tasks=workers, workers=workers, logging_dir=out + "/logs",
).run()
"""


def datatrove_filters():
    from datatrove.pipeline.filters import C4QualityFilter, FineWebQualityFilter, GopherQualityFilter, GopherRepetitionFilter

    return [GopherRepetitionFilter(), GopherQualityFilter(), C4QualityFilter(), FineWebQualityFilter()]


def datatrove_library(docs: list[dict]) -> tuple[float, set[int]]:
    """(CPU s, positions in `docs` of the rows kept) of datatrove's four filters, in this process."""
    from datatrove.data import Document

    filters = datatrove_filters()
    documents = [Document(text=d["text"], id=str(position), metadata={"source": d["source"]}) for position, d in enumerate(docs)]
    start = time.process_time()
    stream = iter(documents)
    for step in filters:
        stream = step.run(stream)
    kept = {int(doc.id) for doc in stream}
    return time.process_time() - start, kept


def our_library(docs: list[dict], filter_config: dict, seed: int) -> tuple[float, dict[str, float], set[int]]:
    """(CPU s, CPU s per step, positions in `docs` of the rows kept) of our cleaner and filters over
    the documents, in this process: the loop of pipelines.stages.filter.filter_work without the
    Parquet reading and writing. Positions, not ids: ids repeat (a PMID in two Cohen files)."""
    chains = SourceChains(filter_config, seed)
    for source in {d["source"] for d in docs}:  # build chains (and load langdetect's profiles) untimed
        for step in chains(source).filters:
            step.check(copy.copy(next(d for d in docs if d["source"] == source)))
    per_step: dict[str, float] = defaultdict(float)
    kept = set()
    clock = time.process_time
    total_start = clock()
    for position, original in enumerate(docs):
        doc = copy.copy(original)
        chain = chains(doc["source"])
        if chain.cleaner is not None:
            start = clock()
            doc["text"] = chain.cleaner(doc["text"])
            per_step["clean"] += clock() - start
            if not doc["text"]:
                continue
        for step in chain.filters:
            start = clock()
            verdict = step.check(doc)
            per_step[step.name] += clock() - start
            if not verdict.keep:
                break
        else:
            kept.add(position)
    return clock() - total_start, dict(per_step), kept


def command_kept_ids(out: Path) -> Counter:
    """The ids of the rows `medcurate filter` wrote to OUT, each with its number of rows."""
    import pyarrow.parquet as pq

    return Counter(i for path in sorted(out.glob("part-*.parquet")) for i in pq.read_table(path, columns=["id"]).column("id").to_pylist())


def command_vs_library(docs: list[dict], library_kept: set[int], command_ids: Counter) -> dict:
    """Rows kept by one side only, by id (an id twice when two of its rows are)."""
    library_ids = Counter(docs[position]["id"] for position in library_kept)
    only_command, only_library = command_ids - library_ids, library_ids - command_ids
    return {"same_rows_kept": not (only_command or only_library),
            "only_command": sorted(only_command.elements()), "only_library": sorted(only_library.elements())}


def measured(args: list[str]) -> tuple[float, float, str]:
    """(CPU s of the command and every process it starts, wall s, how the CPU was measured)."""
    proc = Measured(args, cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, err = proc.communicate()
    wall = time.monotonic() - proc.started
    if proc.returncode:
        raise SystemExit(f"{' '.join(args)} failed with {proc.returncode}: {err.decode()[-2000:]}")
    return proc.cpu_s(), wall, proc.method


def our_command(shards: Path, out: Path, params: Path, workers: int) -> tuple[float, float, str, int]:
    cpu, wall, method = measured([str(REPO / ".venv/bin/medcurate"), "filter", str(shards), "--out", str(out), "--workers", str(workers), "--params", str(params)])
    return cpu, wall, method, json.loads((out / "stats.json").read_text()).get("documents_out", -1)


def datatrove_command(shards: Path, out: Path, workers: int) -> tuple[float, float, str]:
    return measured([sys.executable, "-c", DATATROVE_PIPELINE, str(shards), str(out), str(workers)])


def params_with_engine(params: dict, engine: str, path: Path) -> Path:
    """A copy of params.yaml with `filter.language.engine` set (also in every source override)."""
    import yaml

    params = copy.deepcopy(params)
    params["filter"].setdefault("language", {})["engine"] = engine
    path.write_text(yaml.safe_dump(params))
    return path


def agreement(docs: list[dict], ours: set[int], theirs: set[int]) -> dict:
    """By source, how the two sets of kept positions in `docs` agree, row by row."""
    by_source: dict[str, list[int]] = {source: [] for source in filter_corpus.SOURCES}
    for position, doc in enumerate(docs):
        by_source.setdefault(doc["source"], []).append(position)
    out = {}
    for source, rows in by_source.items():
        if not rows:
            continue
        both = sum(r in ours and r in theirs for r in rows)
        neither = sum(r not in ours and r not in theirs for r in rows)
        out[source] = {
            "documents": len(rows), "kept_by_both": both, "dropped_by_both": neither,
            "kept_only_by_medcurate": sum(r in ours and r not in theirs for r in rows),
            "kept_only_by_datatrove": sum(r in theirs and r not in ours for r in rows),
            "agreement": round((both + neither) / len(rows), 4),
        }
    return out


def rate(n: int, cpu: float, **extra) -> dict:
    return {"cpu_s": round(cpu, 2), "docs_per_cpu_s": round(n / cpu, 1), **extra}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--per-source", type=int, default=3000, help="at most N documents of each source (seeded sample); 0 = all")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--params", default=str(REPO / "params.yaml"))
    parser.add_argument("--out", default=str(REPO / "benchmarks/results/filter.json"))
    args = parser.parse_args()
    params = load_params(args.params)
    seed = params.get("seed", 0)
    by_source = filter_corpus.build(args.per_source or None)
    docs = filter_corpus.mixed(by_source)
    n = len(docs)
    runs: dict[str, list] = defaultdict(list)
    disagreements: dict[str, dict] = {}
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        shards = write_shards(docs, tmp / "in", 2000)
        one = write_shards(docs[:1], tmp / "one", 1)  # the commands' fixed cost: start-up, Dask, output files
        engines = {engine: params_with_engine(params, engine, tmp / f"params-{engine}.yaml") for engine in ("fast", "langdetect")}
        for round_ in range(args.rounds):
            for engine, path in engines.items():
                runs[f"medcurate_command_{engine}"].append(our_command(shards, tmp / f"out-{engine}-{round_}", path, args.workers))
                config = load_params(path)["filter"]
                runs[f"medcurate_library_{engine}"].append(our_library(docs, config, seed))
                gap = command_vs_library(docs, runs[f"medcurate_library_{engine}"][-1][2], command_kept_ids(tmp / f"out-{engine}-{round_}"))
                if not gap["same_rows_kept"]:
                    disagreements.setdefault(engine, gap)
                    print(f"engine {engine}: the command and the library keep different rows: {gap}", flush=True)
            runs["datatrove_command"].append(datatrove_command(shards, str(tmp / f"dt-{round_}"), args.workers))
            runs["medcurate_command_one_document"].append(our_command(one, tmp / f"one-{round_}", engines["fast"], args.workers))
            runs["datatrove_command_one_document"].append(datatrove_command(one, str(tmp / f"dt-one-{round_}"), args.workers))
            runs["datatrove_library"].append(datatrove_library(docs))
            print(f"round {round_ + 1}: " + ", ".join(f"{k} {v[-1][0]:.1f} CPU-s" for k, v in runs.items()), flush=True)

    results: dict = {
        "machine": {"cpu_count": os.cpu_count(), "python": platform.python_version(), "load_average_after": os.getloadavg()},
        "commit": subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=REPO, capture_output=True, text=True).stdout.strip(),
        "documents": n, "by_source": {s: len(d) for s, d in by_source.items()}, "rounds": args.rounds, "workers": args.workers,
    }
    for name, values in runs.items():
        best = min(values, key=lambda v: v[0])
        rounds = [round(v[0], 2) for v in values]
        if "_command" in name:
            extra = {"wall_s": round(best[1], 2), "cpu_method": best[2]}
            if len(best) > 3:
                extra["documents_kept"] = best[3]
            documents = 1 if name.endswith("_one_document") else n
            results[name] = rate(documents, best[0], **extra, cpu_s_rounds=rounds)
        elif name == "datatrove_library":
            results[name] = rate(n, best[0], cpu_s_rounds=rounds, documents_kept=len(best[1]))
        else:
            per_step = {step: round(s, 2) for step, s in best[1].items()}
            language_share = best[1].get("language", 0.0) / best[0]
            results[name] = rate(n, best[0], cpu_s_rounds=rounds, documents_kept=len(best[2]), cpu_s_per_step=per_step,
                                 language_step_share=round(language_share, 3),
                                 language_step_docs_per_cpu_s=round(n / best[1]["language"], 1))
    dt_lib, dt_cmd = results["datatrove_library"]["docs_per_cpu_s"], results["datatrove_command"]["docs_per_cpu_s"]
    # Beyond the fixed cost: documents per CPU-second of each command's per-document work.
    for name in ("medcurate_command_fast", "datatrove_command"):
        fixed = results[name.replace("_fast", "") + "_one_document"]["cpu_s"]
        results[name]["docs_per_cpu_s_beyond_fixed_cost"] = round(n / max(results[name]["cpu_s"] - fixed, 1e-9), 1)
    results["ratios"] = {
        "command_fast_vs_datatrove_command": round(results["medcurate_command_fast"]["docs_per_cpu_s"] / dt_cmd, 2),
        "command_langdetect_vs_datatrove_command": round(results["medcurate_command_langdetect"]["docs_per_cpu_s"] / dt_cmd, 2),
        "library_fast_vs_datatrove_library": round(results["medcurate_library_fast"]["docs_per_cpu_s"] / dt_lib, 2),
        "library_langdetect_vs_datatrove_library": round(results["medcurate_library_langdetect"]["docs_per_cpu_s"] / dt_lib, 2),
        "command_fast_vs_datatrove_beyond_fixed_cost": round(
            results["medcurate_command_fast"]["docs_per_cpu_s_beyond_fixed_cost"] / results["datatrove_command"]["docs_per_cpu_s_beyond_fixed_cost"], 2),
        "goal": 2.0,
    }
    ours = min(runs["medcurate_library_fast"], key=lambda v: v[0])[2]
    theirs = min(runs["datatrove_library"], key=lambda v: v[0])[1]
    results["agreement_fast_vs_datatrove"] = agreement(docs, ours, theirs)
    results["command_vs_library"] = {engine: disagreements.get(engine, {"same_rows_kept": True}) for engine in ("fast", "langdetect")}
    Path(args.out).write_text(json.dumps(results, indent=2) + "\n")
    print(json.dumps({k: results[k] for k in ("ratios",)}, indent=1))
    for name in runs:
        print(f"{name:32s} {results[name]['docs_per_cpu_s']:>8} docs/CPU-s  (CPU s per round {results[name]['cpu_s_rounds']})")


if __name__ == "__main__":
    main()
