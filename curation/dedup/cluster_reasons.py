"""From duplicate clusters to drops: one survivor per cluster, and a reason for every other member.

The clusters are the connected components of all duplicate edges (same document id, same
normalised text, same PMID / PMCID / DOI, verified near duplicate), so a paper's full text, its
abstract and a near copy of that abstract form one cluster. The survivor is chosen by
curation.dedup.survivor. Each other member is ledgered with the strongest relation it has, in
this order:

1. `duplicate_id:<id>`: the same document id as the survivor (one record read twice, e.g. a PMC
   article as its .nxml and again inside its package); detail "same document id";
2. `has_full_text:<pmcid>`: a PubMed abstract (subset `abstracts`) whose PMID, else whose PMCID,
   is that of a full-text PMC document (subset `papers`) of the cluster, the survivor first;
   detail "PMID match" / "PMCID match" (MEDITRON's rule, joined on both keys because some PMC
   articles lack a PMID and some PubMed records lack a PMCID);
3. `exact_duplicate_of:<id>` (same normalised text as the survivor);
4. `pmid_duplicate_of`, `pmcid_duplicate_of`, `doi_duplicate_of` (same identifier as the survivor);
5. else `near_duplicate_of:<id>` (linked by near-duplicate edges, possibly through other
   members; the detail gives the cluster size).

`plan_table` does this for all clusters at once with Arrow (what the stage uses);
`plan_cluster_drops` is the same rule row by row, kept as the readable reference and tested to agree.
"""
from __future__ import annotations

from collections import defaultdict
from typing import Iterable

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from curation.dedup.survivor import SUBSET_RANK, choose_survivor, survivor_key

IDENTIFIERS = ("pmid", "pmcid", "doi")
FULL_TEXT, ABSTRACT = "papers", "abstracts"
PLAN_SCHEMA = pa.schema([pa.field("key", pa.int64()), pa.field("reason", pa.string()), pa.field("detail", pa.string())])


def _full_text_of(member: dict, cluster: list[dict], survivor: dict) -> tuple[str, str] | None:
    if member.get("subset") != ABSTRACT:
        return None
    papers = [r for r in sorted(cluster, key=survivor_key) if r.get("subset") == FULL_TEXT]  # survivor first
    for name, label in (("pmid", "PMID match"), ("pmcid", "PMCID match")):
        if member.get(name):
            for paper in papers:
                if paper.get(name) == member[name]:
                    return f"has_full_text:{paper.get('pmcid') or paper['id']}", label
    return None


def member_reason(member: dict, survivor: dict, cluster: list[dict] | None = None) -> tuple[str, str | None]:
    if member["id"] == survivor["id"]:
        return f"duplicate_id:{survivor['id']}", "same document id"
    full = _full_text_of(member, cluster or [survivor], survivor)
    if full:
        return full
    if member.get("text_hash") and member["text_hash"] == survivor.get("text_hash"):
        return f"exact_duplicate_of:{survivor['id']}", f"text_hash={member['text_hash']}"
    for name in IDENTIFIERS:
        if member.get(name) and member[name] == survivor.get(name):
            return f"{name}_duplicate_of:{survivor['id']}", f"{name}={member[name]}"
    return f"near_duplicate_of:{survivor['id']}", None


def plan_cluster_drops(members: Iterable[dict], root_of: dict) -> dict:
    """{member key: (reason, detail)} for every member that is not its cluster's survivor.

    `members` carry `key` (unique per row), `id`, `subset`, `date`, `text_hash` and identifiers;
    `root_of[key]` names the cluster.
    """
    clusters: dict = defaultdict(list)
    for member in members:
        clusters[root_of[member["key"]]].append(member)
    plan = {}
    for rows in clusters.values():
        if len(rows) < 2:
            continue
        keep = choose_survivor(rows)
        for row in rows:
            if row is keep:
                continue
            reason, detail = member_reason(row, keep, rows)
            if detail is None:
                detail = f"cluster of {len(rows)} documents"
            plan[row["key"]] = (reason, detail)
    return plan


# ------------------------------------------------------------------------- vectorised (Arrow)

_INVERT_DIGITS = np.arange(256, dtype=np.uint8)
_INVERT_DIGITS[48:58] = np.arange(57, 47, -1, dtype=np.uint8)


def date_rank(dates: pa.Array) -> pa.Array:
    """curation.dedup.survivor._date_rank for a whole column: digits inverted, missing -> "~"."""
    if isinstance(dates, pa.ChunkedArray):
        dates = dates.combine_chunks()
    dates = dates.cast(pa.string())
    dates = pc.if_else(pc.fill_null(pc.equal(dates, ""), True), "~", dates)
    _, offsets, data = dates.buffers()
    if data is None or len(dates) == 0:
        return dates
    raw = np.frombuffer(data, dtype=np.uint8)
    missing = pc.equal(dates, "~")
    inverted = pa.py_buffer(_INVERT_DIGITS[raw].tobytes())
    out = pa.Array.from_buffers(pa.string(), len(dates), [None, offsets, inverted], offset=dates.offset)
    return pc.if_else(missing, dates, out)


def _eq(a, b) -> np.ndarray:
    return pc.fill_null(pc.equal(a, b), False).to_numpy(zero_copy_only=False)


def plan_table(members: pa.Table) -> pa.Table:
    """The drop plan of every cluster at once: a table of (key, reason, detail), sorted by key.

    `members` has one row per document that has at least one duplicate edge: key (int64, unique),
    root (int64, its cluster), id, subset, date, text_hash, pmid, pmcid, doi.
    """
    n = members.num_rows
    if n == 0:
        return PLAN_SCHEMA.empty_table()
    subsets = members["subset"].to_pylist()
    rank = np.array([SUBSET_RANK.get(s, len(SUBSET_RANK)) for s in subsets], dtype=np.int64)
    order_table = pa.table(
        {"root": members["root"], "rank": rank, "date": date_rank(members["date"]), "id": members["id"], "key": members["key"]}
    )
    order = pc.sort_indices(order_table, sort_keys=[(c, "ascending") for c in order_table.column_names])
    m = members.take(order)
    root = m["root"].to_numpy()
    starts = np.concatenate(([True], root[1:] != root[:-1]))
    first = np.maximum.accumulate(np.where(starts, np.arange(n), 0))
    size = np.diff(np.append(np.flatnonzero(starts), n))[np.cumsum(starts) - 1]
    s = m.take(pa.array(first))
    dropped = np.flatnonzero(~starts)

    category = np.full(n, -1, np.int64)  # per row: which rule names it (index into the rules below)
    partner = first.copy()  # the row the reason names

    def assign(rule: int, rows: np.ndarray, partners: np.ndarray | None = None) -> None:
        free = rows[category[rows] < 0]
        if partners is not None:
            partners = partners[category[rows] < 0]
        category[free] = rule
        if partners is not None:
            partner[free] = partners

    same = {c: _eq(m[c], s[c]) for c in ("id", "text_hash", *IDENTIFIERS)}
    assign(0, dropped[same["id"][dropped]])
    # has_full_text: abstracts against the full texts of their cluster (the survivor sorts first).
    is_abstract = np.array([x == ABSTRACT for x in m["subset"].to_pylist()])
    is_paper = np.array([x == FULL_TEXT for x in m["subset"].to_pylist()])
    abstracts = dropped[is_abstract[dropped]]
    if abstracts.size and is_paper.any():
        papers = np.flatnonzero(is_paper)
        for rule, name in ((1, "pmid"), (2, "pmcid")):
            left = pa.table({"root": m["root"].take(pa.array(abstracts)), "v": m[name].take(pa.array(abstracts)), "row": abstracts})
            right = pa.table({"root": m["root"].take(pa.array(papers)), "v": m[name].take(pa.array(papers)), "paper": papers})
            left, right = left.filter(pc.is_valid(left["v"])), right.filter(pc.is_valid(right["v"]))
            if not (left.num_rows and right.num_rows):
                continue
            joined = left.join(right, keys=["root", "v"], join_type="inner").group_by("row").aggregate([("paper", "min")])
            rows, best = joined["row"].to_numpy(), joined["paper_min"].to_numpy()
            order_rows = np.argsort(rows)
            assign(rule, rows[order_rows], best[order_rows])
    rest = dropped
    assign(3, rest[same["text_hash"][rest]])
    for rule, name in enumerate(IDENTIFIERS, start=4):
        assign(rule, rest[same[name][rest]])
    assign(7, dropped)

    rows = dropped
    ids, keys = m["id"].to_pylist(), m["key"].to_numpy()
    pmcids = m["pmcid"].to_pylist()
    hashes = m["text_hash"].to_pylist()
    values = {name: m[name].to_pylist() for name in IDENTIFIERS}
    reasons, details = [], []
    for r in rows.tolist():
        c, p = category[r], partner[r]
        if c == 0:
            reasons.append(f"duplicate_id:{ids[p]}"); details.append("same document id")
        elif c in (1, 2):
            reasons.append(f"has_full_text:{pmcids[p] or ids[p]}"); details.append("PMID match" if c == 1 else "PMCID match")
        elif c == 3:
            reasons.append(f"exact_duplicate_of:{ids[p]}"); details.append(f"text_hash={hashes[r]}")
        elif c < 7:
            name = IDENTIFIERS[c - 4]
            reasons.append(f"{name}_duplicate_of:{ids[p]}"); details.append(f"{name}={values[name][r]}")
        else:
            reasons.append(f"near_duplicate_of:{ids[p]}"); details.append(f"cluster of {size[r]} documents")
    plan = pa.table({"key": keys[rows], "reason": pa.array(reasons, pa.string()), "detail": pa.array(details, pa.string())}, schema=PLAN_SCHEMA)
    return plan.take(pc.sort_indices(plan["key"]))
