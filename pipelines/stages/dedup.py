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
   Each task writes only a spanning forest of its edges (node -> component root).
3. plan (here): union-find over all verified edges (curation.dedup.minhash), one survivor per
   component (curation.dedup.survivor), a reason for every other member (curation.dedup.exact,
   vectorised with Arrow). Only documents that have a duplicate are ever looked up. The plan of
   each shard (position, reason, detail) is written to DIR/_work/plan/.
4. apply (one task per shard, resumable through the runner): the shard is read as one Arrow
   table; the rows of its plan go to the ledger (TaskOutput.drop_table), the others on
   (TaskOutput.emit_table), with the same shard writer, names and counts as row by row.

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
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from curation.dedup.decontam import BenchmarkIndex, DecontamConfig
from curation.dedup.exact import IDENTIFIERS, PLAN_SCHEMA, plan_table
from curation.dedup.keys import text_hash
from curation.dedup.minhash import (
    MinhashConfig, band_keys, bucket_pairs, connected_components, estimate_jaccard, has_words, signatures,
)
from curation.dedup.ngrams import splitmix64
from curation.schema import DOCUMENT_SCHEMA
from curation.shards import write_table_atomic
from curation.stats import MEASURES, StageStats
from curation.task_output import TaskOutput
from pipelines.executor import Executor
from pipelines.runner import run_stage
from pipelines.stages.inputs import shard_rows, stage_shards
from pipelines.stages.stage_stats import merge_stage_stats, save_task_stats

log = logging.getLogger("medcurate")

STAGE = "dedup"
WORK = "_work"
KIND_TEXT = 1000
KIND_ID = {name: 1001 + i for i, name in enumerate(IDENTIFIERS)}
KIND_DOC_ID = 1100  # the document id itself: a record read twice is one document
VERIFY_CHUNK = 1 << 17  # candidate pairs whose signatures are gathered at once (2 x 60 MB at 120 permutations)
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


_MALLOC_TUNED = False


def tune_malloc() -> None:
    """Let glibc reuse freed memory for the short-lived arrays of these passes (once per process).

    Dask starts its workers with MALLOC_TRIM_THRESHOLD_=65536, which also freezes glibc's mmap
    threshold at 128 KiB: every numpy array above that is a fresh mmap, faulted in page by page
    and unmapped when freed. Measured on the benchmark corpus, that is as much system time as the
    work itself. Arrays up to 32 MiB now come from the heap, and the heap is returned to the
    system once 256 MiB of it is free, so memory stays bounded."""
    global _MALLOC_TUNED
    if _MALLOC_TUNED:
        return
    _MALLOC_TUNED = True
    try:
        import ctypes

        libc = ctypes.CDLL("libc.so.6")
        libc.mallopt(-3, 32 << 20)  # M_MMAP_THRESHOLD
        libc.mallopt(-1, 256 << 20)  # M_TRIM_THRESHOLD
    except (OSError, AttributeError):  # not glibc: nothing to tune
        pass


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


def _normalise_identifier(name: str, values: list) -> list:
    """The key form of an identifier: PMCIDs upper case with their PMC prefix, DOIs lower case."""
    out = []
    for v in values:
        v = (v or "").strip()
        if v and name == "pmcid":
            v = v.upper()
            v = v if v.startswith("PMC") else "PMC" + v
        elif v and name == "doi":
            v = v.lower()
        out.append(v)
    return out


def _key_block(kind, hashes: np.ndarray, gids: np.ndarray, mask: np.ndarray) -> np.ndarray:
    k = np.empty(int(mask.sum()), KEY_DTYPE)
    k["kind"], k["hash"], k["gid"] = (kind[mask] if isinstance(kind, np.ndarray) else kind), hashes[mask], gids[mask]
    return k


def keys_task(spec: tuple[str, int, str, DedupSettings]) -> dict:
    work, index, shard, settings = spec
    tune_malloc()
    work = Path(work)
    done = work / "keys" / f"{index:05d}.done"
    if done.is_file():
        return json.loads(done.read_text())
    bench = _benchmark_index(settings)
    narrow: list[pa.Table] = []
    keys: list[np.ndarray] = []
    sigs: list[np.ndarray] = []
    position = contaminated = 0
    parquet = pq.ParquetFile(shard)
    for batch in parquet.iter_batches(batch_size=settings.batch_rows, columns=_READ):
        texts = batch.column("text").to_pylist()
        n = len(texts)
        gids = (np.int64(index) << np.int64(32)) + np.arange(position, position + n, dtype=np.int64)
        hashes = [text_hash(t) for t in texts]
        ids = batch.column("id").to_pylist()
        reason = detail = pa.nulls(n, pa.string())
        clean = np.ones(n, dtype=bool)
        if bench:
            found = bench.find(texts, batch.column("pmid").to_pylist())
            clean = np.array([m is None for m in found], dtype=bool)
            if not clean.all():
                reason = pa.array([m.reason if m else None for m in found], pa.string())
                detail = pa.array([m.detail if m else None for m in found], pa.string())
                contaminated += int((~clean).sum())
        columns = {"position": pa.array(np.arange(position, position + n, dtype=np.int64))}
        for name in ("id", "subset", "date", "pmid", "pmcid", "doi"):
            columns[name] = batch.column(name).cast(pa.string())
        columns.update(text_hash=pa.array(hashes, pa.string()), contamination=reason, contamination_detail=detail)
        narrow.append(pa.table(columns, schema=NARROW_SCHEMA))
        keys.append(_key_block(KIND_DOC_ID, np.fromiter((_hash64(i) for i in ids), np.uint64, n), gids, clean))
        if settings.exact:
            keys.append(_key_block(KIND_TEXT, np.fromiter((int(h[:16], 16) for h in hashes), np.uint64, n), gids, clean))
        for name in settings.identifiers:
            values = _normalise_identifier(name, batch.column(name).to_pylist())
            present = np.fromiter((bool(v) for v in values), bool, n) & clean
            keys.append(_key_block(KIND_ID[name], np.fromiter((_hash64(v) if v else 0 for v in values), np.uint64, n), gids, present))
        if settings.near:
            sig = signatures(texts, settings.minhash)
            sigs.append(sig)
            bands = band_keys(sig, settings.minhash)
            usable = has_words(sig) & clean
            b = settings.minhash.num_bands
            keys.append(_key_block(np.tile(np.arange(b, dtype=np.uint16), n), bands.ravel(), np.repeat(gids, b), np.repeat(usable, b)))
        position += n
    all_keys = np.concatenate(keys) if keys else np.empty(0, KEY_DTYPE)
    part = _partition(all_keys["kind"], all_keys["hash"], settings.partitions)
    # Grouped by partition only (a radix sort): the edges pass sorts its buckets itself.
    order = np.argsort(part.astype(np.min_scalar_type(settings.partitions)), kind="stable")
    all_keys, part = all_keys[order], part[order]
    offsets = np.searchsorted(part, np.arange(settings.partitions + 1), side="left").astype(np.int64)
    for sub in ("docs", "sig", "keys"):
        (work / sub).mkdir(parents=True, exist_ok=True)
    table = pa.concat_tables(narrow) if narrow else NARROW_SCHEMA.empty_table()
    write_table_atomic(table, work / "docs" / f"{index:05d}.parquet")
    num_perm = settings.minhash.num_perm
    _atomic_npy(work / "sig" / f"{index:05d}.npy", np.concatenate(sigs) if sigs else np.empty((0, num_perm), np.uint32))
    _atomic_npy(work / "keys" / f"{index:05d}.offsets.npy", offsets)
    _atomic_npy(work / "keys" / f"{index:05d}.keys.npy", all_keys)
    summary = {"documents": position, "keys": int(all_keys.size), "contaminated": contaminated}
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
    tune_malloc()
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
        # Verified in chunks: the gathered signatures of one chunk bound this task's memory.
        cache: dict = {}
        kept = []
        for lo in range(0, len(candidates), VERIFY_CHUNK):
            chunk = candidates[lo : lo + VERIFY_CHUNK]
            left, right = _gather(work, chunk[:, 0], cache), _gather(work, chunk[:, 1], cache)
            kept.append(chunk[estimate_jaccard(left, right) >= settings.minhash.jaccard_threshold])
            del left, right
        verified = np.concatenate(kept)
    edges = np.concatenate((exact_pairs, verified)) if (exact_pairs.size or verified.size) else np.empty((0, 2), np.int64)
    if edges.size:
        # Only the components matter: a spanning forest (each node to its root) replaces the edges.
        nodes, roots = connected_components(edges)
        edges = np.stack((roots[nodes != roots], nodes[nodes != roots]), axis=1)
    (work / "edges").mkdir(parents=True, exist_ok=True)
    _atomic_npy(work / "edges" / f"{p:05d}.npy", edges.astype(np.int64))
    summary = {"keys": int(keys.size), "exact_pairs": int(len(exact_pairs)), "near_candidates": int(len(candidates)), "near_verified": int(len(verified))}
    _mark_done(done, summary)
    return summary


# ------------------------------------------------------------------------------- pass 3: plan


def plan_drops(work: Path, n_shards: int, partitions: int) -> tuple[list[tuple[str, str]], dict]:
    """Union-find over all edges, then the drop plan, written per input shard to DIR/_work/plan/.

    Returns, per shard, (plan file, its sha256): the apply tasks' payloads (the digest makes the
    runner's plan digest change whenever a shard's plan does)."""
    edge_parts = [np.load(work / "edges" / f"{p:05d}.npy") for p in range(partitions)]
    edges = np.concatenate(edge_parts) if edge_parts else np.empty((0, 2), np.int64)
    del edge_parts
    nodes, roots = connected_components(edges)
    n_edges = int(len(edges))
    del edges
    node_shard = nodes >> 32
    members: list[pa.Table] = []
    contaminated: list[pa.Table] = []
    for i in range(n_shards):
        table = pq.read_table(work / "docs" / f"{i:05d}.parquet", schema=NARROW_SCHEMA)
        bad = table.filter(pc.is_valid(table["contamination"]))
        contaminated.append(pa.table({"shard": np.full(bad.num_rows, i, np.int64), "position": bad["position"],
                                      "reason": bad["contamination"], "detail": bad["contamination_detail"]}))
        sel = node_shard == i
        if sel.any():
            positions = nodes[sel] & 0xFFFFFFFF
            rows = table.take(pa.array(positions)).drop_columns(["position", "contamination", "contamination_detail"])
            members.append(rows.append_column("key", pa.array(nodes[sel])).append_column("root", pa.array(roots[sel])))
    plan = plan_table(pa.concat_tables(members)) if members else PLAN_SCHEMA.empty_table()
    keys = plan["key"].to_numpy()
    plan_dir = work / "plan"
    plan_dir.mkdir(parents=True, exist_ok=True)
    out = []
    for i in range(n_shards):
        lo, hi = np.searchsorted(keys, [i << 32, (i + 1) << 32])
        part = plan.slice(lo, hi - lo)
        bad = contaminated[i]
        table = pa.table({"position": pa.concat_arrays([pa.array(keys[lo:hi] & 0xFFFFFFFF), bad["position"].combine_chunks()]),
                          "reason": pa.concat_arrays([part["reason"].combine_chunks(), bad["reason"].combine_chunks()]),
                          "detail": pa.concat_arrays([part["detail"].combine_chunks(), bad["detail"].combine_chunks()])})
        table = table.take(pc.sort_indices(table["position"]))
        path = plan_dir / f"{i:05d}.parquet"
        write_table_atomic(table, path)
        out.append((str(path), hashlib.sha256(path.read_bytes()).hexdigest()))
    clusters = int(np.unique(roots).size)
    return out, {"duplicate_edges": n_edges, "clusters": clusters, "documents_in_clusters": int(nodes.size)}


# ------------------------------------------------------------------------------ pass 4: apply

_ASCII_SPACE = np.zeros(256, dtype=bool)
_ASCII_SPACE[[9, 10, 11, 12, 13, 28, 29, 30, 31, 32]] = True  # what str.split() splits on, in ASCII
_OTHER_SPACE = "[\u0085\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]"


def word_counts(texts: pa.ChunkedArray | pa.Array) -> np.ndarray:
    """len(text.split()) for every text, computed on the UTF-8 bytes (Python only for the rare
    text with a non-ASCII space)."""
    arr = texts.combine_chunks() if isinstance(texts, pa.ChunkedArray) else texts
    arr = pc.fill_null(arr, "")
    n = len(arr)
    _, offsets, data = arr.buffers()
    offs = np.frombuffer(offsets, np.int32)[arr.offset : arr.offset + n + 1].astype(np.int64)
    if n == 0 or data is None or offs[-1] == offs[0]:
        return np.zeros(n, np.int64)
    raw = np.frombuffer(data, np.uint8)[offs[0] : offs[-1]]
    space = _ASCII_SPACE[raw]
    rel = offs - offs[0]
    starts_doc = np.zeros(raw.size, bool)
    starts_doc[rel[:-1][rel[:-1] < raw.size]] = True
    word_start = ~space & (starts_doc | np.concatenate(([True], space[:-1])))
    counts = np.bincount(np.searchsorted(rel, np.flatnonzero(word_start), side="right") - 1, minlength=n)[:n]
    odd = np.flatnonzero(pc.match_substring_regex(arr, _OTHER_SPACE).to_numpy(zero_copy_only=False))
    if odd.size:
        texts_odd = arr.take(pa.array(odd)).to_pylist()
        counts[odd] = [len(t.split()) for t in texts_odd]
    return counts


_BIN_EDGES = np.array([0] + [1 << k for k in range(62)], dtype=np.int64)


def length_bins(lengths: np.ndarray) -> np.ndarray:
    """curation.stats.length_bin for an array: 0, else the largest power of two <= n."""
    return _BIN_EDGES[np.searchsorted(_BIN_EDGES, lengths, side="right") - 1]


def _count_bins(counter, bins: np.ndarray) -> None:
    values, counts = np.unique(bins, return_counts=True)
    for v, c in zip(values.tolist(), counts.tolist()):
        counter[v] += c


def table_stats(table: pa.Table, keep: np.ndarray, reasons: pa.Array) -> StageStats:
    """StageStats of one shard in bulk: what `seen` / `kept` / `dropped` per row would give."""
    stats = StageStats()
    sources = table["source"].to_numpy(zero_copy_only=False)
    lengths = {"chars": pc.utf8_length(table["text"]).to_numpy(zero_copy_only=False).astype(np.int64), "words": word_counts(table["text"])}
    for measure in MEASURES:
        bins = length_bins(lengths[measure])
        _count_bins(stats.hist[measure]["in"], bins)
        _count_bins(stats.hist[measure]["out"], bins[keep])
    for source, count in zip(*np.unique(sources, return_counts=True)):
        stats.sources[source]["in"] += int(count)
    for source, count in zip(*np.unique(sources[keep], return_counts=True)):
        stats.sources[source]["out"] += int(count)
    if len(reasons):
        codes = pc.list_element(pc.split_pattern(reasons, ":", max_splits=1), 0).to_numpy(zero_copy_only=False)
        dropped = sources[~keep]
        for (source, code), count in zip(*np.unique(np.stack((dropped, codes), axis=1).astype(str), axis=0, return_counts=True)):
            stats.sources[str(source)]["dropped"][str(code)] += int(count)
    return stats


def apply_work(payload: tuple[str, str, str], output: TaskOutput) -> None:
    """One input shard, as tables: the plan's rows to the ledger, the others on, in order."""
    shard, plan_path, _digest = payload
    tune_malloc()
    plan = pq.read_table(plan_path)
    try:
        table = pq.read_table(shard).select(DOCUMENT_SCHEMA.names).cast(DOCUMENT_SCHEMA)
    except OSError as error:
        output.input_failed(shard, error)
        return
    positions = plan["position"].to_numpy()
    if np.unique(positions).size != positions.size or (positions.size and positions[-1] >= table.num_rows):
        raise RuntimeError(f"{shard}: the dedup plan names a row twice or a row the shard lacks")
    keep = np.ones(table.num_rows, dtype=bool)
    keep[positions] = False
    output.emit_table(table.filter(pa.array(keep)))
    output.drop_table(table.take(pa.array(positions)), plan["reason"], plan["detail"])
    output.input_parsed()
    save_task_stats(output, table_stats(table, keep, plan["reason"]))


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
    plans, cluster_stats = plan_drops(work, len(shards), settings.partitions)
    payloads = [(s, path, digest) for s, (path, digest) in zip(shards, plans)]
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

