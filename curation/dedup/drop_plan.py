"""Dedup pass 3 and the plan it leaves for pass 4: which rows of each input shard drop, and why.

Pass 3 runs once, over narrow rows only: union-find over every partition's edges
(curation.dedup.minhash.connected_components), one survivor per component and a reason for
every other member (curation.dedup.cluster_reasons, vectorised with Arrow). Only documents that
have a duplicate are ever looked up. The rows pass 1 found contaminated join the plan with
their own reason. Each shard's plan, (position, reason, detail) sorted by position, is a file of
the work folder; pass 4 splits the shard by it (`split_by_plan`).
"""
from __future__ import annotations

import hashlib

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from curation.dedup.cluster_reasons import PLAN_SCHEMA, plan_table
from curation.dedup.minhash import connected_components
from curation.dedup.shard_keys import NARROW_SCHEMA
from curation.dedup.shuffle import position_of, shard_of
from curation.dedup.workdir import WorkDir
from curation.shards import write_table_atomic


def plan_drops(work: WorkDir, n_shards: int, partitions: int) -> tuple[list[tuple[str, str]], dict]:
    """Union-find over all edges, then the drop plan, written per input shard to the work folder.

    Returns, per shard, (plan file, its sha256): the apply tasks' payloads (the digest makes the
    runner's plan digest change whenever a shard's plan does), and the cluster counts."""
    edge_parts = [np.load(work.edges(p)) for p in range(partitions)]
    edges = np.concatenate(edge_parts) if edge_parts else np.empty((0, 2), np.int64)
    del edge_parts
    nodes, roots = connected_components(edges)
    n_edges = int(len(edges))
    del edges
    node_shard = shard_of(nodes)
    members: list[pa.Table] = []
    contaminated: list[pa.Table] = []
    for i in range(n_shards):
        table = pq.read_table(work.docs(i), schema=NARROW_SCHEMA)
        bad = table.filter(pc.is_valid(table["contamination"]))
        contaminated.append(pa.table({"shard": np.full(bad.num_rows, i, np.int64), "position": bad["position"],
                                      "reason": bad["contamination"], "detail": bad["contamination_detail"]}))
        sel = node_shard == i
        if sel.any():
            positions = position_of(nodes[sel])
            rows = table.take(pa.array(positions)).drop_columns(["position", "contamination", "contamination_detail"])
            members.append(rows.append_column("key", pa.array(nodes[sel])).append_column("root", pa.array(roots[sel])))
    plan = plan_table(pa.concat_tables(members)) if members else PLAN_SCHEMA.empty_table()
    keys = plan["key"].to_numpy()
    out = []
    for i in range(n_shards):
        lo, hi = np.searchsorted(keys, [i << 32, (i + 1) << 32])
        part = plan.slice(lo, hi - lo)
        bad = contaminated[i]
        table = pa.table({"position": pa.concat_arrays([pa.array(position_of(keys[lo:hi])), bad["position"].combine_chunks()]),
                          "reason": pa.concat_arrays([part["reason"].combine_chunks(), bad["reason"].combine_chunks()]),
                          "detail": pa.concat_arrays([part["detail"].combine_chunks(), bad["detail"].combine_chunks()])})
        table = table.take(pc.sort_indices(table["position"]))
        path = work.plan(i)
        write_table_atomic(table, path)
        out.append((str(path), hashlib.sha256(path.read_bytes()).hexdigest()))
    clusters = int(np.unique(roots).size)
    return out, {"duplicate_edges": n_edges, "clusters": clusters, "documents_in_clusters": int(nodes.size)}


def split_by_plan(table: pa.Table, plan: pa.Table, name: str = "shard") -> tuple[np.ndarray, pa.Table]:
    """The rows of `table` that go on (a mask) and the rows that drop, in the plan's order."""
    positions = plan["position"].to_numpy()
    if np.unique(positions).size != positions.size or (positions.size and positions[-1] >= table.num_rows):
        raise RuntimeError(f"{name}: the dedup plan names a row twice or a row the shard lacks")
    keep = np.ones(table.num_rows, dtype=bool)
    keep[positions] = False
    return keep, table.take(pa.array(positions))
