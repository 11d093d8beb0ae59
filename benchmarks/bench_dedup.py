"""Near-duplicate throughput per CPU-second, side by side in one run, and peak memory of the stage.

    .venv/bin/python benchmarks/bench_dedup.py [--copies N] [--memory-docs N]

Corpus: the Cohen abstracts (../shared/corpora) plus N planted near copies each (tests/realdata.variant).
- datasketch core: word 5-gram shingles, MinHash(120).update_batch, MinHashLSH(20 x 6) insert + query;
- our signatures alone (curation.dedup.minhash.signatures, same shingles and permutations count);
- our whole `medcurate dedup` command on 2 workers (CPU of every process, Dask start included);
- filter + dedup together, documents per second per core;
- peak memory (sum of RSS of all processes) of the dedup command on `--memory-docs` documents.
Results: benchmarks/results/dedup.json.
"""
from __future__ import annotations

import argparse
import json
import os
import random
import resource
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))
sys.path.insert(0, str(REPO))

from curation.dedup.minhash import MinhashConfig, signatures  # noqa: E402
from curation.dedup.ngrams import ngram_strings  # noqa: E402
from realdata import cohen_docs, variant, write_shards  # noqa: E402


def corpus(copies: int, seed: int = 0) -> list[dict]:
    real = cohen_docs(with_abstract_only=True)
    rng = random.Random(seed)
    out = list(real)
    for c in range(copies):
        out += [dict(d, id=f"variant{c}:{d['id']}:{i}", pmid=None, text=variant(d["text"], rng)) for i, d in enumerate(real)]
    rng.shuffle(out)
    return out


def datasketch_core(texts: list[str]) -> float:
    from datasketch import MinHash, MinHashLSH

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
    start = time.process_time()
    signatures(texts, MinhashConfig())
    return time.process_time() - start


def children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def tree_rss(pid: int) -> int:
    import psutil

    try:
        proc = psutil.Process(pid)
        return sum(p.memory_info().rss for p in [proc] + proc.children(recursive=True))
    except psutil.Error:
        return 0


def command(args: list[str]) -> tuple[float, float, int]:
    """(wall s, CPU s of the command and all its children, peak summed RSS bytes)."""
    before = children_cpu()
    start = time.monotonic()
    proc = subprocess.Popen([str(REPO / ".venv/bin/medcurate"), *args], cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    peak = 0
    while proc.poll() is None:
        peak = max(peak, tree_rss(proc.pid))
        time.sleep(0.2)
    if proc.returncode:
        raise SystemExit(f"medcurate {' '.join(args)} failed with {proc.returncode}")
    return time.monotonic() - start, children_cpu() - before, peak


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--copies", type=int, default=1)
    parser.add_argument("--memory-docs", type=int, default=0)
    parser.add_argument("--out", default=str(REPO / "benchmarks/results/dedup.json"))
    args = parser.parse_args()
    docs = corpus(args.copies)
    texts = [d["text"] for d in docs]
    results: dict = {"documents": len(docs), "cpu_count": os.cpu_count(), "workers": 2}
    ds = datasketch_core(texts)
    ours = our_signatures(texts)
    results["datasketch_core"] = {"cpu_s": round(ds, 2), "docs_per_cpu_s": round(len(docs) / ds)}
    results["our_signatures"] = {"cpu_s": round(ours, 2), "docs_per_cpu_s": round(len(docs) / ours)}
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        write_shards(docs, tmp / "in", 4000)
        wall, cpu, peak = command(["dedup", str(tmp / "in"), "--out", str(tmp / "dedup"), "--workers", "2"])
        results["our_dedup_command"] = {"wall_s": round(wall, 2), "cpu_s": round(cpu, 2), "docs_per_cpu_s": round(len(docs) / cpu), "peak_rss_mb": peak >> 20}
        fwall, fcpu, _ = command(["filter", str(tmp / "in"), "--out", str(tmp / "filtered"), "--workers", "2"])
        results["filter_command"] = {"wall_s": round(fwall, 2), "cpu_s": round(fcpu, 2)}
        results["filter_plus_dedup_docs_per_s_per_core"] = round(len(docs) / (fcpu + cpu))
        if args.memory_docs:
            big = (docs * (args.memory_docs // len(docs) + 1))[: args.memory_docs]
            big = [dict(d, id=f"{d['id']}#{i}") for i, d in enumerate(big)]
            write_shards(big, tmp / "big", 20000)
            del big
            mwall, mcpu, mpeak = command(["dedup", str(tmp / "big"), "--out", str(tmp / "bigout"), "--workers", "2"])
            results["memory"] = {"documents": args.memory_docs, "wall_s": round(mwall, 1), "cpu_s": round(mcpu, 1), "peak_rss_mb": mpeak >> 20}
    results["ratios"] = {
        "signatures_vs_datasketch": round(results["our_signatures"]["docs_per_cpu_s"] / results["datasketch_core"]["docs_per_cpu_s"], 2),
        "command_vs_datasketch": round(results["our_dedup_command"]["docs_per_cpu_s"] / results["datasketch_core"]["docs_per_cpu_s"], 2),
    }
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(results, indent=2) + "\n")
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
