"""From duplicate clusters to drops: one survivor per cluster, and a reason for every other member.

The clusters are the connected components of all duplicate edges (same normalised text, same
PMID / PMCID / DOI, verified near duplicate), so a paper's full text, its abstract and a near
copy of that abstract form one cluster. The survivor is chosen by curation.dedup.survivor. Each
other member is ledgered with the strongest relation it has to the survivor itself:
`exact_duplicate_of:<id>` (same normalised text), then `pmid_duplicate_of`, `pmcid_duplicate_of`,
`doi_duplicate_of` (same identifier), else `near_duplicate_of:<id>` (linked by near-duplicate
edges, possibly through other members, which the detail names).
"""
from __future__ import annotations

from collections import defaultdict
from typing import Iterable

from curation.dedup.survivor import choose_survivor

IDENTIFIERS = ("pmid", "pmcid", "doi")


def member_reason(member: dict, survivor: dict) -> tuple[str, str]:
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
            reason, detail = member_reason(row, keep)
            if detail is None:
                detail = f"cluster of {len(rows)} documents"
            plan[row["key"]] = (reason, detail)
    return plan
