"""Near-duplicate throughput per CPU-second, side by side in one run, and peak memory of the stage.

    .venv/bin/python benchmarks/bench_dedup.py [--copies N [N ...]] [--rounds R] [--no-filter] [--memory-docs N [N ...]] [--only-memory]

Corpus: the Cohen abstracts (../shared/corpora) plus N planted near copies each (tests/realdata.variant),
measured for each N given (the command's fixed start-up weighs less as the corpus grows).
- datasketch core: word 5-gram shingles, MinHash(120).update_batch, MinHashLSH(20 x 6) insert + query;
- our signatures alone (curation.dedup.minhash.signatures, same shingles and permutations count);
- our whole `medcurate dedup` command as README runs it (workers sized by the input: in-process
  below 2 x run.mb_per_worker; CPU of every process it starts, measured by benchmarks/cpu_meter.py),
  with the project's params.yaml (decontamination against MedQA + MedMCQA on, the benchmark index
  cached by content hash after the first run) and with decontamination off (like for like with
  datasketch's core), and the latter on 2 workers (`--workers 2` and a cluster forced by
  run.mb_per_worker), all in the same alternating rounds (benchmarks/command_level.py);
- filter + dedup together, documents per second per core;
- peak memory (sum of RSS of all processes: the command, the Dask scheduler and workers) of the
  dedup command on 2 workers, for each `--memory-docs` size. The corpus is real Cohen abstracts
  and, beyond them, distinct planted variants of them (each abstract has about size/15,000 near
  copies), written shard by shard (20,000 documents each). `--only-memory` skips the throughput
  runs and adds the sizes to the existing results file.
Results: benchmarks/results/dedup.json.
"""
from __future__ import annotations

import argparse
import gc
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))
sys.path.insert(0, str(REPO))

from benchmarks.command_level import METHODS, alternate, command_cpu, process_cpu, ratios  # noqa: E402
from benchmarks.cpu_meter import Measured  # noqa: E402
from curation.dedup.minhash import MinhashConfig, signatures  # noqa: E402
from curation.dedup.ngrams import ngram_strings  # noqa: E402
from realdata import cohen_docs, variant, write_shards  # noqa: E402

COMMAND_CPU_METHOD: set[str] = set()


def corpus(copies: int, seed: int = 0) -> list[dict]:
    real = cohen_docs(with_abstract_only=True)
    rng = random.Random(seed)
    out = list(real)
    for c in range(copies):
        out += [dict(d, id=f"variant{c}:{d['id']}:{i}", pmid=None, text=variant(d["text"], rng)) for i, d in enumerate(real)]
    rng.shuffle(out)
    return out


def write_memory_corpus(n: int, folder: Path, per_shard: int = 20000, seed: int = 7) -> None:
    """n documents: the real abstracts, then distinct variants of them, shard by shard."""
    from curation.schema import DOCUMENT_SCHEMA
    from curation.shards import write_table_atomic
    import pyarrow as pa

    real = cohen_docs(with_abstract_only=True)
    rng = random.Random(seed)
    for shard, start in enumerate(range(0, n, per_shard)):
        rows = []
        for i in range(start, min(n, start + per_shard)):
            d = real[i % len(real)]
            if i < len(real):
                rows.append(d)
            else:
                rows.append(dict(d, id=f"variant{i // len(real)}:{d['id']}:{i}", pmid=None, text=variant(d["text"], rng)))
        write_table_atomic(pa.Table.from_pylist(rows, schema=DOCUMENT_SCHEMA), folder / f"part-{shard:05d}-0000.parquet")


def memory_run(n: int, tmp: Path) -> dict:
    write_memory_corpus(n, tmp / f"mem{n}")
    wall, cpu, peak = command(["dedup", str(tmp / f"mem{n}"), "--out", str(tmp / f"mem{n}out"), "--workers", "2"])
    stats = json.loads((tmp / f"mem{n}out" / "stats.json").read_text())
    shutil.rmtree(tmp / f"mem{n}", ignore_errors=True)
    shutil.rmtree(tmp / f"mem{n}out", ignore_errors=True)
    result = {"documents": n, "wall_s": round(wall, 1), "cpu_s": round(cpu, 1), "peak_rss_mb": peak >> 20,
              "documents_out": stats["documents_out"], "ledgered": stats["ledgered"],
              "verified_pairs": stats["near_duplicates"]["verified_pairs"]}
    print(json.dumps(result), flush=True)
    return result


def datasketch_core(texts: list[str]) -> float:
    from datasketch import MinHash, MinHashLSH

    gc.collect()
    start = time.process_time()
    lsh = MinHashLSH(num_perm=120, params=(20, 6))
    for i, text in enumerate(texts):
        m = MinHash(num_perm=120)
        m.update_batch([s.encode() for s in ngram_strings(text, 5)])
        lsh.query(m)
        lsh.insert(str(i), m)
    return time.process_time() - start


def our_signatures(texts: list[str]) -> float:
    signatures(texts[:100])  # warm the cached powers, as a worker does once
    gc.collect()
    return process_cpu(lambda: signatures(texts, MinhashConfig()))


def tree_rss(pid: int) -> int:
    import psutil

    try:
        proc = psutil.Process(pid)
        return sum(p.memory_info().rss for p in [proc] + proc.children(recursive=True))
    except psutil.Error:
        return 0


def command(args: list[str]) -> tuple[float, float, int]:
    """(wall s, CPU s of the command and every process it started, peak summed RSS bytes)."""
    proc = Measured([str(REPO / ".venv/bin/medcurate"), *args], cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    peak = 0
    while proc.poll() is None:
        peak = max(peak, tree_rss(proc.pid))
        time.sleep(0.2)
    wall = time.monotonic() - proc.started
    if proc.returncode:
        raise SystemExit(f"medcurate {' '.join(args)} failed with {proc.returncode}")
    COMMAND_CPU_METHOD.add(proc.method)
    return wall, proc.cpu_s(), peak


def throughput(copies: int, tmp: Path, with_filter: bool, rounds: int) -> dict:
    """One corpus size: datasketch's core, our signatures, our command in its variants, in
    `rounds` alternating rounds, every round kept: on this shared virtual machine one
    measurement taken right after another's minute of work can come out 20-30% slower (seen for
    both tools), and alternating rounds give each the same conditions."""
    docs = corpus(copies)
    texts = [d["text"] for d in docs]
    n = len(docs)
    folder = tmp / f"copies{copies}"
    write_shards(docs, folder / "in", 4000)
    # Like for like with datasketch's core: no benchmark decontamination (a params file without
    # dedup.benchmarks); as a user runs it: the project's params.yaml (MedQA + MedMCQA).
    bare = folder / "params.yaml"
    bare.write_text("dedup: {partitions: 16}\n")
    cluster = folder / "cluster.yaml"
    cluster.write_text("dedup: {partitions: 16}\nrun: {workers: 2, mb_per_worker: 0.000001}\n")
    project = REPO / "params.yaml"

    def dedup(name: str, params: Path) -> float:
        shutil.rmtree(folder / name, ignore_errors=True)
        return command_cpu(["dedup", str(folder / "in"), "--out", str(folder / name), "--params", str(params)])

    command_cpu(["dedup", str(folder / "in"), "--out", str(folder / "warm"), "--params", str(project)])  # the index cache, as after a first run
    seconds = alternate({
        "datasketch_core": lambda: datasketch_core(texts),
        "our_signatures": lambda: our_signatures(texts),
        "our_dedup_command_with_decontamination": lambda: dedup("decontam", project),
        "our_dedup_command": lambda: dedup("bare", bare),
        "our_dedup_command_2_workers": lambda: dedup("two", cluster),
    }, rounds)
    stats = json.loads((folder / "decontam" / "stats.json").read_text())
    result: dict = {"copies": copies, "documents": n, "input_mb": round(sum(p.stat().st_size for p in (folder / "in").rglob("*")) / 1e6, 1),
                    "rounds": rounds, "measured": ratios(seconds, "datasketch_core", n),
                    "decontaminated": stats.get("reasons", {}).get("benchmark_contamination", 0)}
    if with_filter:
        fcpu = command_cpu(["filter", str(folder / "in"), "--out", str(folder / "filtered")])
        dcpu = min(seconds["our_dedup_command_with_decontamination"])
        result["filter_command"] = {"cpu_s": round(fcpu, 2), "docs_per_cpu_s": round(n / fcpu)}
        result["filter_plus_dedup_docs_per_s_per_core"] = round(n / (fcpu + dcpu))
    measured = result["measured"]
    result["ratios"] = {name: measured[name]["vs_datasketch_core"] for name in measured if name != "datasketch_core"}
    result["ratios_per_round"] = {name: measured[name]["vs_datasketch_core_per_round"] for name in measured if name != "datasketch_core"}
    print(json.dumps(result), flush=True)
    return result


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--copies", type=int, nargs="+", default=[1], help="planted copies per abstract; one measurement per value")
    parser.add_argument("--rounds", type=int, default=2, help="alternating rounds per size; each tool's best is kept")
    parser.add_argument("--memory-docs", type=int, nargs="*", default=[])
    parser.add_argument("--only-memory", action="store_true")
    parser.add_argument("--no-filter", action="store_true", help="skip the filter command and the decontamination run (quick ratio check)")
    parser.add_argument("--out", default=str(REPO / "benchmarks/results/dedup.json"))
    args = parser.parse_args()
    out = Path(args.out)
    if args.only_memory:
        results = json.loads(out.read_text()) if out.is_file() else {}
        with tempfile.TemporaryDirectory() as tmp:
            results["memory"] = [memory_run(n, Path(tmp)) for n in args.memory_docs]
        results["memory_note"] = "peak summed RSS of the dedup command on 2 workers; goal < 4096 MB at 1,000,000 documents"
        out.write_text(json.dumps(results, indent=2) + "\n")
        return
    results: dict = {"cpu_count": os.cpu_count(), "workers": 2}
    with tempfile.TemporaryDirectory() as tmp:
        # The filter and decontamination runs on the first size only.
        results["sizes"] = [throughput(c, Path(tmp), i == 0 and not args.no_filter, args.rounds) for i, c in enumerate(args.copies)]
        if args.memory_docs:
            results["memory"] = [memory_run(n, Path(tmp)) for n in args.memory_docs]
    results["command_cpu_measured_by"] = sorted(COMMAND_CPU_METHOD | METHODS)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, indent=2) + "\n")
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
