"""Dedup pass 2, one key partition: which documents are duplicates of which.

The task reads its slice of every shard's keys (memory-mapped, about 1/partitions of all keys),
groups equal (kind, hash) into buckets and pairs their members (curation.dedup.minhash.bucket_pairs).
Exact keys (text, identifiers, document id) link their pairs outright; an LSH candidate pair is
kept only when the two signatures' estimated Jaccard reaches the threshold. This is the reduce
side of the shuffle: a map-side partitioned write (pass 1) and a reduce-side read through the
work folder, as datatrove's buckets stage does. Dask's own shuffle would need pandas frames and
keep the data in worker memory; files keep memory bounded by one partition, work on a shared
filesystem with an existing cluster, and resume.

Only the components matter downstream, so the task writes a spanning forest of its edges (each
node to its component's root) instead of the edges themselves.
"""
from __future__ import annotations

import numpy as np

from curation.storage import load_npy_rows
from curation.dedup.minhash import bucket_pairs, connected_components, estimate_jaccard
from curation.dedup.settings import DedupSettings
from curation.dedup.shuffle import KEY_DTYPE, KIND_TEXT, position_of, shard_of
from curation.dedup.workdir import WorkDir, load_npy, save_npy

VERIFY_CHUNK = 1 << 17  # candidate pairs whose signatures are gathered at once (2 x 60 MB at 120 permutations)


def _gather(work: WorkDir, gids: np.ndarray, cache: dict) -> np.ndarray:
    """Signature rows of `gids`, read from the memory-mapped per-shard files."""
    out = None
    shards = shard_of(gids)
    for shard in np.unique(shards):
        if shard not in cache:
            cache[shard] = load_npy(work.signatures(int(shard)), mmap=True)
        sel = shards == shard
        rows = np.asarray(cache[shard][position_of(gids[sel])])
        if out is None:
            out = np.empty((gids.size, rows.shape[1]), np.uint32)
        out[sel] = rows
    return out if out is not None else np.empty((0, 0), np.uint32)


def _read_partition(work: WorkDir, p: int, n_shards: int) -> np.ndarray:
    parts = []
    for i in range(n_shards):
        offsets = load_npy(work.offsets(i))
        parts.append(load_npy_rows(work.keys(i), int(offsets[p]), int(offsets[p + 1])))
    return np.concatenate(parts) if parts else np.empty(0, KEY_DTYPE)


def _verify(work: WorkDir, candidates: np.ndarray, threshold: float) -> np.ndarray:
    """The candidate pairs whose signatures agree on at least `threshold` of the permutations,
    verified in chunks: the gathered signatures of one chunk bound the task's memory."""
    if not candidates.size:
        return candidates
    cache: dict = {}
    kept = []
    for lo in range(0, len(candidates), VERIFY_CHUNK):
        chunk = candidates[lo : lo + VERIFY_CHUNK]
        left, right = _gather(work, chunk[:, 0], cache), _gather(work, chunk[:, 1], cache)
        kept.append(chunk[estimate_jaccard(left, right) >= threshold])
        del left, right
    return np.concatenate(kept)


def partition_edges(work: WorkDir, p: int, n_shards: int, settings: DedupSettings) -> dict:
    """Pass 2 for partition `p`; returns (and leaves in the work folder) its summary."""
    done = work.edges_done(p)
    summary = work.read_done(done)
    if summary is not None:
        return summary
    keys = _read_partition(work, p, n_shards)
    near = keys["kind"] < KIND_TEXT
    exact_pairs = bucket_pairs(keys["kind"][~near].astype(np.int64), keys["hash"][~near], keys["gid"][~near])
    candidates = bucket_pairs(keys["kind"][near].astype(np.int64), keys["hash"][near], keys["gid"][near])
    verified = _verify(work, candidates, settings.minhash.jaccard_threshold)
    edges = np.concatenate((exact_pairs, verified)) if (exact_pairs.size or verified.size) else np.empty((0, 2), np.int64)
    if edges.size:
        nodes, roots = connected_components(edges)
        edges = np.stack((roots[nodes != roots], nodes[nodes != roots]), axis=1)
    save_npy(work.edges(p), edges.astype(np.int64))
    summary = {"keys": int(keys.size), "exact_pairs": int(len(exact_pairs)), "near_candidates": int(len(candidates)), "near_verified": int(len(verified))}
    work.mark_done(done, summary)
    return summary
