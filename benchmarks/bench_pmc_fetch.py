"""PMC Cloud fetch throughput: medcurate's sync against a plain sequential client, on the local bucket.

    .venv/bin/python benchmarks/bench_pmc_fetch.py [--articles 400] [--latency-ms 20 0] [--workers 1 4 8 16] [--rounds 3]
        [--connect-rtts 0] [--http10] [--shared ../shared] [--out benchmarks/results/pmc_fetch.json]

Corpus: the demo bucket's real article XML (pipelines/demo_bucket.article_objects(../shared)),
only the versions the default SelectionPolicy takes (open access, commercial licence, not OCR),
replicated to `--articles` versions under distinct PMCIDs (PMC90000000 up). Each copy's XML gets
a trailing comment naming the copy, so every copy has its own bytes and MD5; its metadata JSON
(both keys) states the new pmcid and an `xml_url` with that MD5. A fresh inventory snapshot
(demo_bucket.inventory_objects) names every metadata key with its ETag.

Server: `serve_in_thread(bucket_tree(objects), delay=latency)` in a child process of its own (so
its Python threads never take the clients' interpreter lock), answering HTTP/1.1 with keep-alive
as S3 does (the demo handler with `protocol_version` set; `--http10` keeps the demo's HTTP/1.0,
one connection per request). The delay is slept before each answer: a stand-in for the round trip
to S3 and its first-byte time, which from a cluster is typically tens of ms; concurrency exists
to hide it. `--connect-rtts N` also delays each new connection by N latencies (TCP + TLS
handshakes to S3 take about 2). The server counts requests by kind (listing, inventory, metadata
JSON, article XML) and connections; the client side counts urllib3's "connection pool is full,
discarding connection" warnings (requests' pools keep 10 connections per host).

Contenders, alternating within each round (the order flips every round), each into a fresh
temporary folder:
- medcurate: `sources.pmc.cloud.sync.sync(HttpClient(retries=2, backoff=0.05, max_connections=max(10, K)), base, out,
  SelectionPolicy(), route="inventory", workers=K)` for each K of `--workers`: the newest
  inventory snapshot (listing + manifest + MD5-verified shard), every metadata JSON (MD5 = ETag),
  the selection, every chosen article XML (MD5 from `xml_url`), the store manifest and state;
- sequential: what one would write without medcurate (`sequential_fetch`): one requests.Session,
  the same listing, manifest and shard, then for each inventory row GET the metadata JSON, check
  its MD5, write it, GET its `xml_url` rebased onto the local bucket, check the MD5, write it;
  one request at a time (same licence rule as SelectionPolicy(); every copy passes it);
- the command as README runs it: `medcurate pmc fetch --out DIR --base-url URL --concurrency 8`
  with the project's params.yaml (`medcurate_command_w8`): its wall time, and the CPU of every
  process it starts (interpreter, imports; benchmarks/cpu_meter.py) as its client CPU.
Untimed after every run: both folders must hold exactly the served article XML and metadata JSON,
byte for byte (a correctness check of the benchmark, not a test). Wall time is what counts
(articles per second); CPU seconds of the client process are recorded too.

Also, once per latency: a second sync on a store medcurate just filled, with the server counting
requests: it must ask for no metadata JSON and no article XML.

Results: benchmarks/results/pmc_fetch.json.
"""
from __future__ import annotations

import argparse
import csv
import gzip
import hashlib
import io
import json
import logging
import multiprocessing as mp
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
import xml.etree.ElementTree as ET
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

import requests  # noqa: E402

from pipelines.demo_bucket import BUCKET, article_objects, inventory_objects  # noqa: E402
from pipelines.demo_server import bucket_tree, serve_in_thread  # noqa: E402
from sources.http import HttpClient  # noqa: E402
from sources.pmc.cloud.sync import sync  # noqa: E402
from sources.pmc.cloud.versions import SelectionPolicy, parse_version  # noqa: E402

SHARED = REPO.parent / "shared"
RESULTS = REPO / "benchmarks" / "results" / "pmc_fetch.json"
FIRST_PMC = 90_000_000  # above any real PMCID, so copies never collide with real ones
INVENTORY_PREFIX = f"inventory-reports/{BUCKET}/metadata/"
KINDS = ("listing", "inventory", "metadata", "xml", "other", "connections")  # requests by kind; TCP connections


# --- the corpus ---------------------------------------------------------------------------------------------
def replicated_bucket(n_articles: int, shared: Path = SHARED) -> tuple[dict[str, bytes], int]:
    """(object key -> bytes of n_articles article versions + inventory, number of real templates)."""
    real = article_objects(shared)
    policy = SelectionPolicy()
    templates = []
    for key in sorted(real):
        if key.startswith("metadata/"):
            version = parse_version(real[key], key)
            if policy.refusal(version) is None and not version.retracted:
                templates.append((json.loads(real[key]), real[version.xml_key]))
    if not templates:
        raise SystemExit(f"no selectable article in {shared}")
    objects: dict[str, bytes] = {}
    for i in range(n_articles):
        meta, xml = templates[i % len(templates)]
        number = FIRST_PMC + i
        name = f"PMC{number}.1"
        data = xml + f"\n<!-- medcurate bench copy {i} -->\n".encode()
        meta = {**meta, "pmcid": f"PMC{number}", "version": 1,
                "xml_url": f"s3://{BUCKET}/{name}/{name}.xml?md5={hashlib.md5(data).hexdigest()}"}
        meta_bytes = json.dumps(meta, indent=1).encode()
        objects[f"{name}/{name}.xml"] = data
        objects[f"{name}/{name}.json"] = meta_bytes
        objects[f"metadata/{name}.json"] = meta_bytes
    return {**objects, **inventory_objects(objects)}, len(templates)


def expected_files(objects: dict[str, bytes]) -> dict[str, bytes]:
    """File name -> bytes that a complete fetch must have stored (article XML and metadata JSON)."""
    return {key.rsplit("/", 1)[-1] if key.endswith(".xml") else "metadata:" + key.rsplit("/", 1)[-1]: data
            for key, data in objects.items() if key.endswith(".xml") or key.startswith("metadata/")}


def stored_files(out: Path) -> dict[str, bytes]:
    """The same view of a fetched folder (medcurate shards folders; the sequential client does not)."""
    found = {p.name: p.read_bytes() for p in (out / "articles").rglob("*.xml")}
    found.update({"metadata:" + p.name: p.read_bytes() for p in (out / "metadata").rglob("*.json")})
    return found


# --- the server, in a process of its own ----------------------------------------------------------------------
def _kind(path: str) -> str:
    if "list-type=2" in path:
        return "listing"
    if "/inventory-reports/" in path:
        return "inventory"
    if "/metadata/" in path:
        return "metadata"
    return "xml" if path.split("?", 1)[0].endswith(".xml") else "other"


def _serve(objects: dict[str, bytes], delay: float, connect_delay: float, keep_alive: bool, counts, ready, stop) -> None:
    server, base = serve_in_thread(bucket_tree(objects), delay=delay)
    demo_handler = server.RequestHandlerClass

    class Counting(demo_handler):
        protocol_version = "HTTP/1.1" if keep_alive else demo_handler.protocol_version
        # Headers and body leave in two writes: with keep-alive, Nagle's algorithm would hold the
        # body until the client's delayed ACK (~40 ms a request on Linux). S3 does not do that.
        disable_nagle_algorithm = True

        def setup(self) -> None:  # a new connection: counted, and its TCP + TLS handshakes stood in for
            super().setup()
            with counts.get_lock():
                counts[KINDS.index("connections")] += 1
            if connect_delay:
                time.sleep(connect_delay)

        def do_GET(self, head: bool = False) -> None:
            index = KINDS.index(_kind(self.path))
            with counts.get_lock():
                counts[index] += 1
            super().do_GET(head)

    server.RequestHandlerClass = Counting
    ready.send(base)
    stop.wait()
    server.shutdown()


class Server:
    """The local bucket, served with `delay` seconds per request, counting requests by kind."""

    def __init__(self, objects: dict[str, bytes], delay: float, keep_alive: bool, connect_delay: float = 0.0):
        ctx = mp.get_context("fork")
        self.counts = ctx.Array("q", len(KINDS))
        self._stop = ctx.Event()
        receive, send = ctx.Pipe(duplex=False)
        self._process = ctx.Process(target=_serve, args=(objects, delay, connect_delay, keep_alive, self.counts, send, self._stop),
                                    daemon=True)
        self._process.start()
        self.base_url = receive.recv() + "/" + BUCKET

    def take_counts(self) -> dict[str, int]:
        """Requests by kind since the last call."""
        with self.counts.get_lock():
            taken = dict(zip(KINDS, self.counts[:]))
            for i in range(len(KINDS)):
                self.counts[i] = 0
        return {k: v for k, v in taken.items() if v}

    def close(self) -> None:
        self._stop.set()
        self._process.join(10)
        if self._process.is_alive():
            self._process.terminate()


# --- the plain sequential client -------------------------------------------------------------------------------
def sequential_fetch(base_url: str, out: Path) -> int:
    """A straightforward script: newest inventory, then every metadata JSON and its article XML, one by one.

    MD5s are checked (inventory shard against the manifest, JSON against the inventory ETag, XML
    against the `md5` of its `xml_url`) and the same licence rule as medcurate's default applies.
    Returns the number of articles written.
    """
    session = requests.Session()

    def get(key: str, md5: str | None = None, **params) -> bytes:
        response = session.get(f"{base_url}/{key}", params=params or None, timeout=60)
        response.raise_for_status()
        if md5 is not None and hashlib.md5(response.content).hexdigest() != md5:
            raise RuntimeError(f"{key}: MD5 mismatch")
        return response.content

    listing = ET.fromstring(get("", **{"list-type": "2", "prefix": INVENTORY_PREFIX, "delimiter": "/"}))
    ns = {"s3": "http://s3.amazonaws.com/doc/2006-03-01/"}
    folders = [p.text[len(INVENTORY_PREFIX):].rstrip("/") for p in listing.findall("s3:CommonPrefixes/s3:Prefix", ns)]
    snapshot = max(f for f in folders if f[:4].isdigit())
    manifest = json.loads(get(f"{INVENTORY_PREFIX}{snapshot}/manifest.json"))
    columns = [c.strip() for c in manifest["fileSchema"].split(",")]
    (out / "inventory").mkdir(parents=True)
    (out / "metadata").mkdir()
    (out / "articles").mkdir()
    written = 0
    for shard in manifest["files"]:
        data = get(shard["key"], shard["MD5checksum"])
        (out / "inventory" / shard["key"].rsplit("/", 1)[-1]).write_bytes(data)
        for row in csv.DictReader(io.StringIO(gzip.decompress(data).decode()), fieldnames=columns):
            key = row["Key"]
            if not (key.startswith("metadata/") and key.endswith(".json")):
                continue
            meta_bytes = get(key, row["ETag"].strip('"'))
            (out / "metadata" / key.rsplit("/", 1)[-1]).write_bytes(meta_bytes)
            meta = json.loads(meta_bytes)
            if (not meta.get("is_pmc_openaccess") or meta.get("is_historical_ocr") or meta.get("is_retracted")
                    or meta.get("license_code") not in ("CC0", "CC BY", "CC BY-SA", "CC BY-ND") or not meta.get("xml_url")):
                continue
            url = urlsplit(meta["xml_url"])
            xml_key = url.path.lstrip("/")
            (out / "articles" / xml_key.rsplit("/", 1)[-1]).write_bytes(get(xml_key, parse_qs(url.query)["md5"][0]))
            written += 1
    session.close()
    return written


# --- one timed run --------------------------------------------------------------------------------------------
class PoolWarnings(logging.Handler):
    """Counts urllib3's 'Connection pool is full, discarding connection' warnings."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.count = 0

    def emit(self, record: logging.LogRecord) -> None:
        if "pool is full" in record.getMessage():
            self.count += 1


def client(workers: int) -> HttpClient:
    """As `medcurate pmc fetch` builds it: a connection kept per worker (at least requests' 10)."""
    return HttpClient(retries=2, backoff=0.05, max_connections=max(10, workers))


def timed(name: str, server: Server, expected: dict[str, bytes], n_articles: int, workers: int | None,
          pool_warnings: PoolWarnings) -> dict:
    out = Path(tempfile.mkdtemp(prefix="bench_pmc_fetch_"))
    try:
        server.take_counts()
        pool_warnings.count = 0
        wall, cpu = time.perf_counter(), time.process_time()
        if workers is None:
            articles = sequential_fetch(server.base_url, out)
        else:
            with client(workers) as http:
                report = sync(http, server.base_url, out, SelectionPolicy(), route="inventory", workers=workers)
            if report.failed or report.removed:
                raise SystemExit(f"{name}: failed {report.failed[:3]}, removed {len(report.removed)}")
            articles = len(report.fetched)
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
        requests_made = server.take_counts()
        if articles != n_articles or stored_files(out) != expected:  # untimed: same files, same bytes
            raise SystemExit(f"{name}: {articles} articles, or the stored files differ from the bucket's")
    finally:
        shutil.rmtree(out, ignore_errors=True)
    return {"wall_s": wall, "cpu_s": cpu, "requests": requests_made, "pool_full_discards": pool_warnings.count}


def timed_command(server: Server, expected: dict[str, bytes], n_articles: int, workers: int) -> dict:
    """`medcurate pmc fetch` as a user runs it, in a subprocess: wall and whole-command CPU."""
    from benchmarks.cpu_meter import Measured

    out = Path(tempfile.mkdtemp(prefix="bench_pmc_fetch_cmd_"))
    try:
        server.take_counts()
        wall = time.perf_counter()
        proc = Measured([str(REPO / ".venv" / "bin" / "medcurate"), "pmc", "fetch", "--out", str(out), "--base-url", server.base_url,
                         "--concurrency", str(workers)], cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        _, err = proc.communicate()
        wall = time.perf_counter() - wall
        if proc.returncode:
            raise SystemExit(f"medcurate pmc fetch failed: {err.decode()[-2000:]}")
        cpu = proc.cpu_s()
        requests_made = server.take_counts()
        if stored_files(out) != expected:  # untimed: same files, same bytes
            raise SystemExit("medcurate pmc fetch: the stored files differ from the bucket's")
    finally:
        shutil.rmtree(out, ignore_errors=True)
    return {"wall_s": wall, "cpu_s": cpu, "requests": requests_made, "pool_full_discards": 0, "cpu_method": proc.method}


def _count(value) -> int:
    return value if isinstance(value, int) else len(value)  # SyncReport.skipped: a count (a list before ee41b1d)


def code_state() -> dict:
    """The commit measured, and the files of the code paths under test that differ from it."""
    def git(*args: str) -> str:
        try:
            return subprocess.run(["git", *args], cwd=REPO, capture_output=True, text=True, check=True).stdout.strip()
        except (OSError, subprocess.CalledProcessError):
            return ""
    return {"commit": git("rev-parse", "HEAD") or None,
            "uncommitted_changes": git("status", "--porcelain", "--", "sources/http", "sources/pmc/cloud",
                                       "sources/raw_store.py", "pipelines/demo_server.py", "pipelines/demo_bucket.py",
                                       "curation/atomic.py").splitlines()}


def second_sync(server: Server, workers: int) -> dict:
    """A sync, then a second one on the same store: what the second one asks the server for."""
    out = Path(tempfile.mkdtemp(prefix="bench_pmc_fetch_again_"))
    try:
        with client(workers) as http:
            sync(http, server.base_url, out, SelectionPolicy(), route="inventory", workers=workers)
            server.take_counts()
            wall = time.perf_counter()
            report = sync(http, server.base_url, out, SelectionPolicy(), route="inventory", workers=workers)
            wall = time.perf_counter() - wall
        made = server.take_counts()
    finally:
        shutil.rmtree(out, ignore_errors=True)
    return {"requests": made, "xml_requests": made.get("xml", 0), "metadata_requests": made.get("metadata", 0),
            "fetched": len(report.fetched), "skipped": _count(report.skipped), "metadata_fetched": report.metadata_fetched,
            "metadata_reused": report.metadata_reused, "wall_s": round(wall, 3)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--articles", type=int, default=400, help="article versions in the bucket")
    parser.add_argument("--latency-ms", type=float, nargs="+", default=[20.0, 0.0], help="server delay per request")
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 4, 8, 16], help="medcurate concurrency levels")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--shared", type=Path, default=SHARED, help="the shared data folder")
    parser.add_argument("--out", type=Path, default=RESULTS, help="results JSON")
    parser.add_argument("--connect-rtts", type=float, default=0.0,
                        help="extra delay of each new connection, in multiples of the latency (TCP + TLS: about 2)")
    parser.add_argument("--http10", action="store_true", help="the demo server's HTTP/1.0 (a connection per request)")
    args = parser.parse_args()

    objects, n_templates = replicated_bucket(args.articles, args.shared)
    expected = expected_files(objects)
    xml_bytes = sum(len(v) for k, v in objects.items() if k.endswith(".xml"))
    pool_warnings = PoolWarnings()
    logging.getLogger("urllib3.connectionpool").addHandler(pool_warnings)
    logging.getLogger("urllib3.connectionpool").propagate = False  # counted, not printed

    contenders = [("sequential", None)] + [(f"medcurate_w{k}", k) for k in args.workers] + [("medcurate_command_w8", "command")]
    per_latency = {}
    load = [os.getloadavg()[0]]
    for latency in args.latency_ms:
        server = Server(objects, latency / 1000.0, keep_alive=not args.http10,
                        connect_delay=args.connect_rtts * latency / 1000.0)
        try:
            runs: dict[str, list[dict]] = {name: [] for name, _ in contenders}
            for round_ in range(args.rounds):
                order = contenders if round_ % 2 == 0 else contenders[::-1]
                for name, workers in order:
                    if workers == "command":
                        runs[name].append(timed_command(server, expected, args.articles, 8))
                    else:
                        runs[name].append(timed(name, server, expected, args.articles, workers, pool_warnings))
                    print(f"latency {latency:g} ms round {round_ + 1} {name}: {runs[name][-1]['wall_s']:.2f} s", flush=True)
                load.append(os.getloadavg()[0])
            again = second_sync(server, 8 if 8 in args.workers else args.workers[-1])
        finally:
            server.close()
        summary = {}
        for name, done in runs.items():
            best = min(r["wall_s"] for r in done)
            summary[name] = {
                "articles_per_s": round(args.articles / best, 1),
                "wall_s_best": round(best, 3),
                "wall_s_every_round": [round(r["wall_s"], 3) for r in done],
                "client_cpu_s_every_round": [round(r["cpu_s"], 3) for r in done],
                "client_cpu_ms_per_article_best": round(1000 * min(r["cpu_s"] for r in done) / args.articles, 3),
                "requests": done[-1]["requests"],
                "pool_full_discards": max(r["pool_full_discards"] for r in done),
            }
        seq = runs["sequential"]
        ratios = {}
        for name, workers in contenders[1:]:
            ratios[name] = {
                "ratio_best_of": round(summary["sequential"]["wall_s_best"] / summary[name]["wall_s_best"], 2),
                "ratio_per_round": [round(s["wall_s"] / m["wall_s"], 2) for s, m in zip(seq, runs[name])],
            }
        per_latency[f"{latency:g}ms"] = {"latency_ms": latency, "contenders": summary,
                                         "ratio_medcurate_over_sequential": ratios, "second_sync": again}

    result = {
        "articles": args.articles,
        "real_templates": n_templates,
        "xml_bytes_total": xml_bytes,
        "xml_bytes_mean": round(xml_bytes / args.articles),
        "rounds": args.rounds,
        "connect_rtts": args.connect_rtts,
        "server": "pipelines.demo_server.serve_in_thread in a child process, "
                  + ("HTTP/1.0 (connection per request)" if args.http10 else "HTTP/1.1 keep-alive"),
        "medcurate_client": "HttpClient(retries=2, backoff=0.05, max_connections=max(10, workers)) as pmc fetch builds it, otherwise defaults",
        "per_latency": per_latency,
        "code": code_state(),
        "versions": {"python": platform.python_version(), "requests": requests.__version__},
        "machine": {"processor": platform.processor() or platform.machine(), "system": platform.platform(),
                    "cpus": os.cpu_count(),
                    "load_average_1min_per_round": [round(x, 2) for x in load]},
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    for key, block in per_latency.items():
        line = ", ".join(f"{name} {c['articles_per_s']}/s" for name, c in block["contenders"].items())
        ratio = ", ".join(f"{name} {r['ratio_best_of']}x" for name, r in block["ratio_medcurate_over_sequential"].items())
        print(f"{key}: {line}\n  ratio: {ratio}\n  second sync: {block['second_sync']}")


if __name__ == "__main__":
    main()
