"""filter and dedup on the same shards from local disk and from S3 (moto's server on 127.0.0.1).

    .venv/bin/python benchmarks/bench_object_storage.py [--copies N] [--rounds R] [--stages filter dedup]
        [--baseline DIR] [--out FILE]

Corpus: the Cohen abstracts (../shared/corpora) plus N planted near copies of each
(tests/realdata.variant), in shards of 2,000 documents, written once to a local folder and
uploaded byte for byte to a bucket of a moto S3 server that this script starts on 127.0.0.1.
Each of `medcurate filter` and `medcurate dedup` (one process, `--scheduler sync`) runs
local -> local and s3 -> s3, in alternating rounds (the best of each kept): documents per CPU-s
of the command (every process it starts, benchmarks/cpu_meter.py), wall time, and the S3/local
ratio of each. The moto server runs in this script's process; its CPU is reported apart
(`server_cpu_s`), as a real S3 would spend it on other machines.

With `--baseline DIR` (the code of another commit, e.g. `git archive BASE | tar -x -C DIR`), the
local runs are also timed with that code (this checkout's interpreter and libraries) in the same
rounds: the local path must be no slower.

Also the Parquet I/O choice of curation.storage (`parquet_io`): one 2,000-document shard written
and read N times locally by pyarrow's own file writer/reader and through an fsspec file handle,
and on S3 through s3fs and through pyarrow.fs.S3FileSystem (CPU of this process, moto included
for S3, and wall time).
Results: benchmarks/results/object_storage.json.
"""
from __future__ import annotations

import argparse
import json
import os
import random
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))
sys.path.insert(0, str(REPO))

from benchmarks.cpu_meter import Measured  # noqa: E402
from realdata import cohen_docs, variant, write_shards  # noqa: E402

RESULTS = REPO / "benchmarks" / "results" / "object_storage.json"
SHARD_DOCS = 2000
CREDENTIALS = {"AWS_ACCESS_KEY_ID": "bench", "AWS_SECRET_ACCESS_KEY": "bench", "AWS_DEFAULT_REGION": "us-east-1"}


def corpus(copies: int, seed: int = 0) -> list[dict]:
    real = cohen_docs(with_abstract_only=True)
    rng = random.Random(seed)
    out = list(real)
    for c in range(copies):
        out += [dict(d, id=f"variant{c}:{d['id']}", pmid=None, text=variant(d["text"], rng)) for d in real]
    rng.shuffle(out)
    return out


def own_cpu_s() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def run_command(medcurate: list[str], args: list[str], env: dict) -> tuple[float, float, float]:
    """(wall s, CPU s of the command and its processes, CPU s of this process meanwhile: moto)."""
    server_before = own_cpu_s()
    proc = Measured([*medcurate, *args], cwd=REPO, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, err = proc.communicate()
    wall = time.monotonic() - proc.started
    if proc.returncode:
        raise SystemExit(f"medcurate {' '.join(args)} failed: {err.decode()[-2000:]}")
    return wall, proc.cpu_s(), own_cpu_s() - server_before


def parquet_io(shard: Path, bucket: str, endpoint: str, repeats: int) -> dict:
    """Write and read one shard `repeats` times each way; CPU and wall per way."""
    import fsspec
    import pyarrow.fs as pafs
    import pyarrow.parquet as pq

    table = pq.read_table(shard)
    tmp = Path(tempfile.mkdtemp(prefix="bench-pqio-"))
    local_fs = fsspec.filesystem("file")
    s3 = fsspec.filesystem("s3", endpoint_url=endpoint, key="bench", secret="bench", use_listings_cache=False)
    arrow_s3 = pafs.S3FileSystem(endpoint_override=endpoint, access_key="bench", secret_key="bench", scheme="http", region="us-east-1")
    options = {"compression": "zstd", "row_group_size": 1024}
    ways = {
        "local, pyarrow file": (lambda i: pq.write_table(table, tmp / f"a{i}.parquet", **options),
                                lambda i: pq.read_table(tmp / f"a{i}.parquet")),
        "local, fsspec handle": (lambda i: _write_handle(local_fs, str(tmp / f"b{i}.parquet"), table, options),
                                 lambda i: pq.read_table(local_fs.open(str(tmp / f"b{i}.parquet"), "rb"))),
        "s3, s3fs (fsspec)": (lambda i: _write_handle(s3, f"{bucket}/io/c{i}.parquet", table, options),
                              lambda i: pq.read_table(f"{bucket}/io/c{i}.parquet", filesystem=s3)),
        "s3, pyarrow.fs.S3FileSystem": (lambda i: pq.write_table(table, f"{bucket}/io/d{i}.parquet", filesystem=arrow_s3, **options),
                                        lambda i: pq.read_table(f"{bucket}/io/d{i}.parquet", filesystem=arrow_s3)),
    }
    out = {}
    for name, (write, read) in ways.items():
        row = {}
        for label, step in (("write", write), ("read", read)):
            cpu, wall = own_cpu_s(), time.monotonic()
            for i in range(repeats):
                step(i)
            row[f"{label}_cpu_s"] = round(own_cpu_s() - cpu, 3)
            row[f"{label}_wall_s"] = round(time.monotonic() - wall, 3)
        out[name] = row
    shutil.rmtree(tmp)
    return {"repeats": repeats, "shard_rows": table.num_rows, "shard_bytes": shard.stat().st_size, "ways": out}


def _write_handle(fs, path: str, table, options: dict) -> None:
    import pyarrow.parquet as pq

    with fs.open(path, "wb") as handle:
        pq.write_table(table, handle, **options)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--copies", type=int, default=1)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--io-repeats", type=int, default=20)
    parser.add_argument("--stages", nargs="+", default=["filter", "dedup"], choices=["filter", "dedup"])
    parser.add_argument("--out", type=Path, default=RESULTS, help="results file")
    parser.add_argument("--baseline", type=Path, help="the code of another commit whose local runs to time alongside")
    args = parser.parse_args()

    import logging

    import boto3
    from moto.server import ThreadedMotoServer

    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # one line per request otherwise

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    endpoint = f"http://{host}:{port}"
    boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1", aws_access_key_id="bench",
                 aws_secret_access_key="bench").create_bucket(Bucket="bench")
    env = {**os.environ, **CREDENTIALS, "AWS_ENDPOINT_URL": endpoint}
    os.environ.update({**CREDENTIALS, "AWS_ENDPOINT_URL": endpoint})

    from curation import storage

    tmp = Path(tempfile.mkdtemp(prefix="bench-object-storage-"))
    docs = corpus(args.copies)
    local_in = write_shards(docs, tmp / "in", SHARD_DOCS)
    s3_in = "s3://bench/in"
    for path in sorted(local_in.glob("*.parquet")):
        storage.write_bytes(f"{s3_in}/{path.name}", path.read_bytes())
    # The project's params (filter rules, dedup with MedQA + MedMCQA), less the keys a baseline
    # may not know yet (both at their defaults).
    import yaml

    values = yaml.safe_load((REPO / "params.yaml").read_text())
    values["run"].pop("storage_options", None)
    values["dedup"].pop("scratch", None)
    params = tmp / "params.yaml"
    params.write_text(yaml.safe_dump(values))
    commands = {"ours": [str(REPO / ".venv" / "bin" / "medcurate")]}
    if args.baseline:
        launch = f"import sys; sys.path.insert(0, {str(args.baseline.resolve())!r}); from pipelines.cli import main; main()"
        commands["baseline"] = [sys.executable, "-c", launch]

    best: dict[str, dict] = {}
    methods = set()
    for round_ in range(args.rounds):
        for stage in args.stages:
            for where, src, out_root in (("local", str(local_in), str(tmp / "out")), ("s3", s3_in, "s3://bench/out")):
                for who, medcurate in commands.items():
                    if who != "ours" and where != "local":
                        continue
                    out = f"{out_root}/{who}-{stage}-{round_}"
                    wall, cpu, server_cpu = run_command(medcurate, [stage, src, "--out", out, "--params", str(params), "--scheduler", "sync"], env)
                    key = f"{stage} {where}" + ("" if who == "ours" else f" ({who})")
                    row = {"documents": len(docs), "wall_s": round(wall, 2), "cpu_s": round(cpu, 2),
                           "docs_per_cpu_s": round(len(docs) / cpu, 1), "server_cpu_s": round(server_cpu, 2)}
                    if key not in best or row["cpu_s"] < best[key]["cpu_s"]:
                        best[key] = row
                    print(key, row, flush=True)
    methods.add("cgroup cpuacct" if Path("/sys/fs/cgroup/cpuacct").exists() else "machine busy time")
    ratios = {stage: {"cpu_s3_over_local": round(best[f"{stage} s3"]["cpu_s"] / best[f"{stage} local"]["cpu_s"], 3),
                      "wall_s3_over_local": round(best[f"{stage} s3"]["wall_s"] / best[f"{stage} local"]["wall_s"], 3)}
              for stage in args.stages}
    if args.baseline:
        for stage in args.stages:
            ratios[stage]["cpu_ours_over_baseline_local"] = round(best[f"{stage} local"]["cpu_s"] / best[f"{stage} local (baseline)"]["cpu_s"], 3)
    io = parquet_io(sorted(local_in.glob("*.parquet"))[0], "bench", endpoint, args.io_repeats)
    result = {"corpus": {"documents": len(docs), "shards": len(list(local_in.glob('*.parquet'))), "copies": args.copies},
              "rounds": args.rounds, "cpu_method": sorted(methods), "runs": best, "ratios": ratios, "parquet_io": io,
              "baseline": str(args.baseline) if args.baseline else None}
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps({"ratios": ratios, "parquet_io": io}, indent=2))
    server.stop()
    shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
