"""Dedup pass 3 and the plan it leaves for pass 4: which rows of each input shard drop, and why.

Pass 3 runs once, over narrow rows only: union-find over every partition's edges
(curation.dedup.minhash.connected_components), one survivor per component and a reason for
every other member (curation.dedup.cluster_reasons, vectorised with Arrow). Only documents that
have a duplicate are ever looked up. The rows pass 1 already dropped (a null id or text, a text
too large, benchmark contamination) join the plan with their own reason. Each shard's plan,
(position, reason, detail) sorted by position, is a file of the work folder; pass 4 splits the
shard by it (`split_by_plan`).
"""
from __future__ import annotations

import hashlib

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from curation import storage
from curation.dedup.cluster_reasons import PLAN_SCHEMA, plan_table
from curation.dedup.minhash import connected_components
from curation.dedup.shard_keys import NARROW_SCHEMA
from curation.dedup.shuffle import position_of, shard_of
from curation.dedup.workdir import WorkDir, load_npy
from curation.shards import write_table_atomic


def plan_drops(work: WorkDir, n_shards: int, partitions: int) -> tuple[list[tuple[str, str]], dict]:
    """Union-find over all edges, then the drop plan, written per input shard to the work folder.

    Returns, per shard, (plan file, its sha256): the apply tasks' payloads (the digest makes the
    runner's plan digest change whenever a shard's plan does), and the cluster counts."""
    edge_parts = [load_npy(work.edges(p)) for p in range(partitions)]
    edges = np.concatenate(edge_parts) if edge_parts else np.empty((0, 2), np.int64)
    del edge_parts
    nodes, roots = connected_components(edges)
    n_edges = int(len(edges))
    del edges
    node_shard = shard_of(nodes)
    members: list[pa.Table] = []
    dropped_early: list[pa.Table] = []
    for i in range(n_shards):
        table = storage.read_parquet(work.docs(i), schema=NARROW_SCHEMA)
        early = table.filter(pc.is_valid(table["drop_reason"]))
        dropped_early.append(pa.table({"position": early["position"], "reason": early["drop_reason"], "detail": early["drop_detail"]}))
        sel = node_shard == i
        if sel.any():
            positions = rows_at(table["position"].to_numpy(), position_of(nodes[sel]))
            rows = table.take(pa.array(positions)).drop_columns(["position", "drop_reason", "drop_detail"])
            members.append(rows.append_column("key", pa.array(nodes[sel])).append_column("root", pa.array(roots[sel])))
    plan = plan_table(pa.concat_tables(members)) if members else PLAN_SCHEMA.empty_table()
    keys = plan["key"].to_numpy()
    out = []
    for i in range(n_shards):
        lo, hi = np.searchsorted(keys, [i << 32, (i + 1) << 32])
        part = plan.slice(lo, hi - lo)
        early = dropped_early[i]
        table = pa.table({"position": pa.concat_arrays([pa.array(position_of(keys[lo:hi])), early["position"].combine_chunks()]),
                          "reason": pa.concat_arrays([part["reason"].combine_chunks(), early["reason"].combine_chunks()]),
                          "detail": pa.concat_arrays([part["detail"].combine_chunks(), early["detail"].combine_chunks()])})
        table = table.take(pc.sort_indices(table["position"]))
        path = work.plan(i)
        write_table_atomic(table, path)
        out.append((path, hashlib.sha256(storage.read_bytes(path)).hexdigest()))
    clusters = int(np.unique(roots).size)
    return out, {"duplicate_edges": n_edges, "clusters": clusters, "documents_in_clusters": int(nodes.size)}


def rows_at(positions: np.ndarray, wanted: np.ndarray) -> np.ndarray:
    """Where the shard positions `wanted` are in a table whose rows sit at `positions` (sorted;
    the positions of the rows read, which skip the row groups that could not be)."""
    if positions.size and positions[-1] == positions.size - 1:  # every row read: rows are positions
        return wanted
    return np.searchsorted(positions, wanted)


def split_by_plan(table: pa.Table, positions: np.ndarray, plan: pa.Table, name: str = "shard") -> tuple[np.ndarray, pa.Table]:
    """The rows of `table` (at shard `positions`) that go on (a mask) and the rows that drop, in
    the plan's order."""
    wanted = plan["position"].to_numpy()
    rows = rows_at(positions, wanted)
    if (np.unique(wanted).size != wanted.size or (rows.size and rows[-1] >= table.num_rows)
            or not np.array_equal(positions[rows], wanted)):
        raise RuntimeError(f"{name}: the dedup plan names a row twice or a row the shard lacks")
    keep = np.ones(table.num_rows, dtype=bool)
    keep[rows] = False
    return keep, table.take(pa.array(rows))
