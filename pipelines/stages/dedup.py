"""`medcurate dedup`: decontamination, exact, identifier and near-duplicate dedup across all inputs.

Four passes; only the first and the last read documents, and only narrow columns move between them:

1. keys (one task per input shard, in parallel): per document its normalised-text hash, its
   MinHash signature and LSH band hashes, its identifiers, and whether it is contaminated by a
   benchmark (curation.dedup.decontam). Written to DIR/_work/: a narrow document table, the
   signatures (uint32 .npy, for verification), and the shuffle keys (kind, hash, gid) sorted into
   `partitions` hash partitions. A gid is (shard index << 32 | row position).
2. edges (one task per partition, in parallel): each task reads its slice of every shard's keys
   (memory-mapped, about 1/partitions of all keys), groups equal (kind, hash), and writes
   candidate pairs; near-duplicate candidates are kept only when their signatures' estimated
   Jaccard reaches the threshold. This is the shuffle: a map-side partitioned write and a
   reduce-side read through the stage folder, as datatrove's buckets stage does. Dask's own
   shuffle would need pandas frames and keep the data in worker memory; files keep memory
   bounded by one partition, work with `--scheduler` on a shared filesystem, and resume.
3. plan (here): union-find over all verified edges (curation.dedup.minhash), one survivor per
   component (curation.dedup.survivor), a reason for every other member (curation.dedup.exact).
   Only documents that have a duplicate are ever looked up.
4. apply (one task per shard, resumable through the runner): every document goes on or to the
   ledger with its reason.

Every pass is deterministic and independent of how many workers run it, so 1 and N workers give
byte-identical output. Passes 1 and 2 leave a `.done` marker per task, so an interrupted run
resumes where it stopped; DIR/_work is removed once the stage completes.
"""
from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
from collections import defaultdict
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from curation.dedup.decontam import BenchmarkIndex, DecontamConfig
from curation.dedup.exact import IDENTIFIERS, plan_cluster_drops
from curation.dedup.keys import text_hash
from curation.dedup.minhash import (
    MinhashConfig, band_keys, bucket_pairs, connected_components, estimate_jaccard, has_words, signatures,
)
from curation.dedup.ngrams import splitmix64
from curation.schema import DOCUMENT_SCHEMA
from curation.shards import iter_rows, write_table_atomic
from curation.stats import StageStats
from curation.task_output import TaskOutput, write_json_atomic
from pipelines.executor import Executor
from pipelines.runner import run_stage
from pipelines.stages.inputs import shard_rows, stage_shards
from pipelines.stages.stage_stats import merge_stage_stats, save_task_stats

log = logging.getLogger("medcurate")

STAGE = "dedup"
WORK = "_work"
KIND_TEXT = 1000
KIND_ID = {name: 1001 + i for i, name in enumerate(IDENTIFIERS)}
KEY_DTYPE = np.dtype([("kind", "<u2"), ("hash", "<u8"), ("gid", "<i8")])
_READ = ["id", "subset", "date", "pmid", "pmcid", "doi", "text"]
NARROW_SCHEMA = pa.schema(
    [
        pa.field("position", pa.int64()),
        pa.field("id", pa.string()),
        pa.field("subset", pa.string()),
        pa.field("date", pa.string()),
        pa.field("pmid", pa.string()),
        pa.field("pmcid", pa.string()),
        pa.field("doi", pa.string()),
        pa.field("text_hash", pa.string()),
        pa.field("contamination", pa.string()),
        pa.field("contamination_detail", pa.string()),
    ]
)


@dataclass(frozen=True)
class DedupSettings:
    minhash: MinhashConfig = MinhashConfig()
    near: bool = True
    exact: bool = True
    identifiers: tuple[str, ...] = IDENTIFIERS
    benchmarks: tuple[str, ...] = ()
    decontam: DecontamConfig = DecontamConfig()
    partitions: int = 16
    batch_rows: int = 4096
    keep_work: bool = False

    def digest_items(self) -> dict:
        data = asdict(self)
        data.pop("keep_work")
        data["benchmark_files"] = [_file_identity(spec.partition("=")[2] or spec) for spec in self.benchmarks]
        return data


def _file_identity(path: str) -> list:
    st = os.stat(path)
    return [str(path), st.st_size]


def _hash64(value: str) -> int:
    return int.from_bytes(hashlib.blake2b(value.encode("utf-8"), digest_size=8).digest(), "little")


def _partition(kind: np.ndarray, hashes: np.ndarray, partitions: int) -> np.ndarray:
    mixed = splitmix64(hashes ^ (kind.astype(np.uint64) * np.uint64(0x9E3779B97F4A7C15)))
    return (mixed % np.uint64(partitions)).astype(np.int64)


def _atomic_npy(path: Path, array: np.ndarray) -> None:
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "wb") as handle:
        np.save(handle, array)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(tmp, path)


def _mark_done(path: Path, data: dict) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(data, sort_keys=True))
    os.replace(tmp, path)


# ------------------------------------------------------------------------------- pass 1: keys

_INDEX_CACHE: dict = {}


def _benchmark_index(settings: DedupSettings) -> BenchmarkIndex | None:
    if not settings.benchmarks:
        return None
    key = (settings.benchmarks, settings.decontam)
    if key not in _INDEX_CACHE:  # built once per worker process
        _INDEX_CACHE.clear()
        _INDEX_CACHE[key] = BenchmarkIndex(list(settings.benchmarks), settings.decontam)
    return _INDEX_CACHE[key]


def keys_task(spec: tuple[str, int, str, DedupSettings]) -> dict:
    work, index, shard, settings = spec
    work = Path(work)
    done = work / "keys" / f"{index:05d}.done"
    if done.is_file():
        return json.loads(done.read_text())
    bench = _benchmark_index(settings)
    rows: list[dict] = []
    keys: list[np.ndarray] = []
    sigs: list[np.ndarray] = []
    position = 0
    parquet = pq.ParquetFile(shard)
    for batch in parquet.iter_batches(batch_size=settings.batch_rows, columns=_READ):
        cols = batch.to_pydict()
        texts = cols["text"]
        n = len(texts)
        gids = (np.int64(index) << np.int64(32)) + np.arange(position, position + n, dtype=np.int64)
        hashes = [text_hash(t) for t in texts]
        found = bench.find(texts, cols["pmid"]) if bench else [None] * n
        clean = np.array([m is None for m in found], dtype=bool)
        for i in range(n):
            rows.append(
                {
                    "position": position + i,
                    **{c: cols[c][i] for c in _READ if c != "text"},
                    "text_hash": hashes[i],
                    "contamination": found[i].reason if found[i] else None,
                    "contamination_detail": found[i].detail if found[i] else None,
                }
            )
        parts = []
        if settings.exact:
            parts.append((np.full(n, KIND_TEXT), np.array([int(h[:16], 16) for h in hashes], dtype=np.uint64), gids, clean))
        for name in settings.identifiers:
            values = cols[name]
            present = np.array([bool(v) for v in values]) & clean
            parts.append((np.full(n, KIND_ID[name]), np.array([_hash64(v) if v else 0 for v in values], dtype=np.uint64), gids, present))
        if settings.near:
            sig = signatures(texts, settings.minhash)
            sigs.append(sig)
            bands = band_keys(sig, settings.minhash)
            usable = has_words(sig) & clean
            b = settings.minhash.num_bands
            parts.append(
                (np.tile(np.arange(b), n), bands.ravel(), np.repeat(gids, b), np.repeat(usable, b))
            )
        for kind, hashes_, gid, mask in parts:
            k = np.empty(int(mask.sum()), KEY_DTYPE)
            k["kind"], k["hash"], k["gid"] = kind[mask], hashes_[mask], gid[mask]
            keys.append(k)
        position += n
    all_keys = np.concatenate(keys) if keys else np.empty(0, KEY_DTYPE)
    part = _partition(all_keys["kind"], all_keys["hash"], settings.partitions)
    order = np.lexsort((all_keys["gid"], all_keys["hash"], all_keys["kind"], part))
    all_keys, part = all_keys[order], part[order]
    offsets = np.searchsorted(part, np.arange(settings.partitions + 1), side="left").astype(np.int64)
    for sub in ("docs", "sig", "keys"):
        (work / sub).mkdir(parents=True, exist_ok=True)
    write_table_atomic(pa.Table.from_pylist(rows, schema=NARROW_SCHEMA), work / "docs" / f"{index:05d}.parquet")
    num_perm = settings.minhash.num_perm
    _atomic_npy(work / "sig" / f"{index:05d}.npy", np.concatenate(sigs) if sigs else np.empty((0, num_perm), np.uint32))
    _atomic_npy(work / "keys" / f"{index:05d}.offsets.npy", offsets)
    _atomic_npy(work / "keys" / f"{index:05d}.keys.npy", all_keys)
    summary = {"documents": position, "keys": int(all_keys.size), "contaminated": int(sum(r["contamination"] is not None for r in rows))}
    _mark_done(done, summary)
    return summary


# ------------------------------------------------------------------------------ pass 2: edges


def _gather(work: Path, gids: np.ndarray, cache: dict) -> np.ndarray:
    """Signature rows of `gids`, read from the memory-mapped per-shard files."""
    out = None
    shards = gids >> 32
    for shard in np.unique(shards):
        if shard not in cache:
            cache[shard] = np.load(work / "sig" / f"{int(shard):05d}.npy", mmap_mode="r")
        sel = shards == shard
        rows = np.asarray(cache[shard][gids[sel] & 0xFFFFFFFF])
        if out is None:
            out = np.empty((gids.size, rows.shape[1]), np.uint32)
        out[sel] = rows
    return out if out is not None else np.empty((0, 0), np.uint32)


def edges_task(spec: tuple[str, int, int, DedupSettings]) -> dict:
    work, p, n_shards, settings = spec
    work = Path(work)
    done = work / "edges" / f"{p:05d}.done"
    if done.is_file():
        return json.loads(done.read_text())
    parts = []
    for i in range(n_shards):
        offsets = np.load(work / "keys" / f"{i:05d}.offsets.npy")
        keys = np.load(work / "keys" / f"{i:05d}.keys.npy", mmap_mode="r")
        parts.append(np.array(keys[offsets[p] : offsets[p + 1]]))
    keys = np.concatenate(parts) if parts else np.empty(0, KEY_DTYPE)
    near = keys["kind"] < KIND_TEXT
    exact_pairs = bucket_pairs(keys["kind"][~near].astype(np.int64), keys["hash"][~near], keys["gid"][~near])
    candidates = bucket_pairs(keys["kind"][near].astype(np.int64), keys["hash"][near], keys["gid"][near])
    verified = candidates
    if candidates.size:
        cache: dict = {}
        left, right = _gather(work, candidates[:, 0], cache), _gather(work, candidates[:, 1], cache)
        verified = candidates[estimate_jaccard(left, right) >= settings.minhash.jaccard_threshold]
    edges = np.concatenate((exact_pairs, verified)) if (exact_pairs.size or verified.size) else np.empty((0, 2), np.int64)
    edges = np.unique(edges, axis=0) if edges.size else edges
    (work / "edges").mkdir(parents=True, exist_ok=True)
    _atomic_npy(work / "edges" / f"{p:05d}.npy", edges.astype(np.int64))
    summary = {"keys": int(keys.size), "exact_pairs": int(len(exact_pairs)), "near_candidates": int(len(candidates)), "near_verified": int(len(verified))}
    _mark_done(done, summary)
    return summary


# ------------------------------------------------------------------------------- pass 3: plan


def plan_drops(work: Path, n_shards: int, partitions: int) -> tuple[dict[int, dict[int, tuple[str, str]]], dict]:
    edge_parts = [np.load(work / "edges" / f"{p:05d}.npy") for p in range(partitions)]
    edges = np.concatenate(edge_parts) if edge_parts else np.empty((0, 2), np.int64)
    nodes, roots = connected_components(edges)
    root_of = dict(zip(nodes.tolist(), roots.tolist()))
    drops: dict[int, dict[int, tuple[str, str]]] = defaultdict(dict)
    members: list[dict] = []
    node_shard = nodes >> 32
    for i in range(n_shards):
        table = pq.read_table(work / "docs" / f"{i:05d}.parquet", schema=NARROW_SCHEMA)
        contaminated = table.filter(pc.is_valid(table["contamination"]))
        for row in contaminated.select(["position", "contamination", "contamination_detail"]).to_pylist():
            drops[i][row["position"]] = (row["contamination"], row["contamination_detail"])
        positions = (nodes[node_shard == i] & 0xFFFFFFFF).tolist()
        if positions:
            for row in table.take(pa.array(positions)).to_pylist():
                row["key"] = (i << 32) | row["position"]
                members.append(row)
    plan = plan_cluster_drops(members, root_of)
    for key, value in plan.items():
        drops[key >> 32][key & 0xFFFFFFFF] = value
    clusters = int(np.unique(roots).size)
    return drops, {"duplicate_edges": int(len(edges)), "clusters": clusters, "documents_in_clusters": int(nodes.size)}


# ------------------------------------------------------------------------------ pass 4: apply


def apply_work(payload: tuple[str, dict[int, tuple[str, str]]], output: TaskOutput) -> None:
    shard, drops = payload
    stats = StageStats()
    try:
        for position, doc in enumerate(iter_rows(shard, DOCUMENT_SCHEMA)):
            stats.seen(doc["source"], doc["text"])
            if position in drops:
                output.drop(doc, *drops[position])
                stats.dropped(doc["source"], drops[position][0])
            else:
                output.emit(doc)
                stats.kept(doc["source"], doc["text"])
    except OSError as error:
        output.input_failed(shard, error)
        return
    output.input_parsed()
    save_task_stats(output, stats)


# ---------------------------------------------------------------------------------- the stage


def _inputs_digest(shards: list[str], settings: DedupSettings) -> str:
    items = {"shards": [_file_identity(s) for s in shards], "settings": settings.digest_items()}
    return hashlib.sha256(json.dumps(items, sort_keys=True, default=str).encode()).hexdigest()


def _prepare_work(work: Path, digest: str) -> None:
    """A work folder belongs to one set of inputs and settings; anything else is discarded."""
    stamp = work / "inputs.digest"
    if work.is_dir() and not (stamp.is_file() and stamp.read_text() == digest):
        shutil.rmtree(work)
    work.mkdir(parents=True, exist_ok=True)
    stamp.write_text(digest)


def run(
    inputs: list[Path | str],
    out_dir: Path,
    executor: Executor,
    shard_bytes: int,
    settings: DedupSettings = DedupSettings(),
) -> dict:
    out_dir = Path(out_dir)
    shards = [str(p) for p in stage_shards(inputs)]
    digest = _inputs_digest(shards, settings)
    stats_path = out_dir / "stats.json"
    if stats_path.is_file():
        previous = json.loads(stats_path.read_text(encoding="utf-8"))
        if previous.get("inputs_digest") == digest and not (out_dir / WORK).exists():
            log.info("%s: already complete for these inputs and settings", STAGE)
            return previous
    work = out_dir / WORK
    _prepare_work(work, digest)
    log.info(
        "%s: %d shards; signatures take %d bytes per document, keys %d",
        STAGE, len(shards), 4 * settings.minhash.num_perm, KEY_DTYPE.itemsize * (settings.minhash.num_bands + 1 + len(settings.identifiers)),
    )
    key_summaries = executor.map(keys_task, [(str(work), i, s, settings) for i, s in enumerate(shards)], desc=f"{STAGE} (keys)")
    edge_summaries = executor.map(
        edges_task, [(str(work), p, len(shards), settings) for p in range(settings.partitions)], desc=f"{STAGE} (edges)"
    )
    drops, cluster_stats = plan_drops(work, len(shards), settings.partitions)
    payloads = [(s, dict(sorted(drops.get(i, {}).items()))) for i, s in enumerate(shards)]
    run_stage(
        STAGE, out_dir, payloads, apply_work, executor, shard_bytes=shard_bytes,
        expected_documents_in=shard_rows(shards),
    )
    extra = {
        "inputs_digest": digest,
        "near_duplicates": {
            "minhash": settings.minhash.to_dict(),
            "candidate_pairs": sum(e["near_candidates"] for e in edge_summaries),
            "verified_pairs": sum(e["near_verified"] for e in edge_summaries),
            "exact_and_identifier_pairs": sum(e["exact_pairs"] for e in edge_summaries),
            **cluster_stats,
        },
        "decontamination": {
            "benchmarks": list(settings.benchmarks),
            "n_grams": settings.decontam.n_grams,
            "min_matches": settings.decontam.min_matches,
            "documents": sum(k["contaminated"] for k in key_summaries),
        },
    }
    stats = merge_stage_stats(out_dir, extra)
    if not settings.keep_work:
        shutil.rmtree(work, ignore_errors=True)
    return stats

