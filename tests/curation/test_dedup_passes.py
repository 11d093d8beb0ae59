"""Each dedup pass called on its own, on real documents from ../shared (the passes are listed in
curation/dedup/__init__.py): pass 1 keys (shard_keys), pass 2 edges (partition_edges), pass 3 the
plan (drop_plan with cluster_reasons and survivor), pass 4 the split (split_by_plan). The stage
runs them together through the executor (tests/pipelines/test_dedup_stage.py)."""
import random
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from curation.dedup.drop_plan import plan_drops, split_by_plan
from curation.dedup.keys import text_hash
from curation.dedup.minhash import EMPTY_SIGNATURE, MinhashConfig, connected_components, signatures
from curation.dedup.partition_edges import partition_edges
from curation.dedup.settings import DedupSettings
from curation.dedup.shard_keys import NARROW_SCHEMA, shard_keys
from curation.dedup.shuffle import KIND_DOC_ID, KIND_ID, KIND_TEXT, gids, partition_of, position_of, shard_of
from curation.dedup.survivor import choose_survivor
from curation.dedup.workdir import WorkDir
from curation.schema import DOCUMENT_SCHEMA
from curation.shards import write_table_atomic
from realdata import QA, cohen_docs, distinct_abstracts, parsed_abstracts_and_articles, variant


LENIENT = pa.schema([f.with_nullable(True) for f in DOCUMENT_SCHEMA])


@pytest.fixture(scope="module")
def real() -> list[dict]:
    """Real abstracts with distinct normalised text and no near duplicate among them."""
    return distinct_abstracts()[:400]


def gid(shard: int, position: int) -> int:
    return int(gids(shard, np.array([position]))[0])


def run_pass1(tmp: Path, shards: list[list[dict]], settings: DedupSettings) -> tuple[WorkDir, list[Path], list[dict]]:
    work = WorkDir(tmp / "_work")
    paths = []
    for i, rows in enumerate(shards):
        paths.append(tmp / f"in-{i}.parquet")
        # Nullable as written by a foreign tool: a null text is the shard's, and pass 1 judges it.
        write_table_atomic(pa.Table.from_pylist(rows, schema=LENIENT), paths[-1])
    return work, paths, [shard_keys(work, i, str(p), settings) for i, p in enumerate(paths)]


def run_pass2(work: WorkDir, n_shards: int, settings: DedupSettings) -> list[dict]:
    return [partition_edges(work, p, n_shards, settings) for p in range(settings.partitions)]


def components(work: WorkDir, partitions: int) -> set[frozenset]:
    """The duplicate clusters of all partitions' edges, as sets of gids."""
    edges = np.concatenate([np.load(work.edges(p)) for p in range(partitions)])
    nodes, roots = connected_components(edges)
    groups: dict = {}
    for node, root in zip(nodes.tolist(), roots.tolist()):
        groups.setdefault(root, set()).add(node)
    return {frozenset(g) for g in groups.values()}


def run_all(tmp: Path, shards: list[list[dict]], settings: DedupSettings) -> dict:
    """Passes 1-3; {(shard, position): (reason, detail)} of every row that drops."""
    work, _, _ = run_pass1(tmp, shards, settings)
    run_pass2(work, len(shards), settings)
    plans, _ = plan_drops(work, len(shards), settings.partitions)
    out = {}
    for i, (path, _) in enumerate(plans):
        for row in pq.read_table(path).to_pylist():
            out[(i, row["position"])] = (row["reason"], row["detail"])
    return out


# ------------------------------------------------------------------------------- pass 1: keys


def test_pass1_keys_hashes_signatures_and_early_drops_of_real_abstracts(tmp_path, real):
    docs = [dict(d) for d in real[:120]]
    docs[7]["text"] = None  # a row that cannot take part: dropped here, keyless
    sizes = [len(d["text"].encode()) for d in docs if d["text"]]
    largest = max(range(len(docs)), key=lambda i: len((docs[i]["text"] or "").encode()))
    settings = DedupSettings(partitions=5, max_text_bytes=sorted(sizes)[-2])  # only the largest is too large
    work, paths, (summary,) = run_pass1(tmp_path, [docs], settings)

    narrow = pq.read_table(work.docs(0), schema=NARROW_SCHEMA).to_pylist()
    assert [r["position"] for r in narrow] == list(range(len(docs)))
    assert [r["id"] for r in narrow] == [d["id"] for d in docs]
    assert narrow[7]["drop_reason"] == "null_text" and narrow[7]["drop_detail"] == "row 7 of in-0.parquet"
    assert narrow[largest]["drop_reason"] == "too_large"
    assert narrow[largest]["drop_detail"] == f"{max(sizes)} bytes of text, above dedup.max_text_bytes={settings.max_text_bytes}"
    clean = [i for i in range(len(docs)) if i not in (7, largest)]
    assert all(narrow[i]["drop_reason"] is None and narrow[i]["text_hash"] == text_hash(docs[i]["text"]) for i in clean)

    keys, offsets = np.load(work.keys(0)), np.load(work.offsets(0))
    assert offsets[0] == 0 and offsets[-1] == keys.size == summary["keys"] and len(offsets) == settings.partitions + 1
    for p in range(settings.partitions):  # grouped by partition: pass 2 reads one slice per shard
        part = keys[offsets[p] : offsets[p + 1]]
        assert (partition_of(part["kind"], part["hash"], settings.partitions) == p).all()
    assert set(keys["gid"].tolist()) == {gid(0, i) for i in clean}  # the dropped rows have no key
    by_kind = {k: keys[keys["kind"] == k] for k in (KIND_DOC_ID, KIND_TEXT, KIND_ID["pmid"])}
    with_pmid = [i for i in clean if docs[i]["pmid"]]
    assert len(by_kind[KIND_DOC_ID]) == len(by_kind[KIND_TEXT]) == len(clean) and len(by_kind[KIND_ID["pmid"]]) == len(with_pmid)
    text_keys = dict(zip(position_of(by_kind[KIND_TEXT]["gid"]).tolist(), by_kind[KIND_TEXT]["hash"].tolist()))
    assert all(text_keys[i] == int(text_hash(docs[i]["text"])[:16], 16) for i in clean)
    bands = keys[keys["kind"] < KIND_TEXT]
    assert len(bands) == settings.minhash.num_bands * len(clean)

    sigs = np.load(work.signatures(0))
    assert sigs.shape == (len(docs), settings.minhash.num_perm)
    assert np.array_equal(sigs[clean[:20]], signatures([docs[i]["text"] for i in clean[:20]], settings.minhash))
    assert (sigs[7] == EMPTY_SIGNATURE).all()
    assert summary == {"documents": len(docs), "keys": int(keys.size), "contaminated": 0, "read_groups": [0]}

    # A finished task is not redone: its summary is read back, its files are left as they are.
    stamp = Path(work.keys(0)).stat().st_mtime_ns
    assert shard_keys(work, 0, str(paths[0]), settings) == summary and Path(work.keys(0)).stat().st_mtime_ns == stamp


def test_pass1_drops_a_document_that_holds_a_medqa_question(tmp_path, real):
    import json

    item = json.loads((QA / "medqa" / "test.jsonl").read_text().splitlines()[11])
    docs = [dict(d) for d in real[:60]]
    docs[3]["text"] = docs[3]["text"] + "\n" + item["question"]
    settings = DedupSettings(partitions=2, benchmarks=(str(QA / "medqa" / "test.jsonl"),), index_cache=str(tmp_path / "cache"))
    work, _, (summary,) = run_pass1(tmp_path, [docs], settings)
    narrow = pq.read_table(work.docs(0)).to_pylist()
    assert narrow[3]["drop_reason"] == "benchmark_contamination:medqa" and narrow[3]["drop_detail"]
    assert [r["drop_reason"] for i, r in enumerate(narrow) if i != 3] == [None] * (len(docs) - 1)
    assert summary["contaminated"] == 1
    assert gid(0, 3) not in set(np.load(work.keys(0))["gid"].tolist())


def test_text_keys_ignore_case_spacing_and_compatibility_forms_not_words(real):
    text = real[0]["text"]
    assert text_hash(text) == text_hash("\u3000" + text.upper().replace(" ", " \n\t"))
    # NFKC: a ligature and full-width digits are the letters and digits they stand for.
    assert text_hash("ﬁbrosis in ２０ patients") == text_hash("fibrosis in 20 patients")
    words = text.split()
    assert text_hash(" ".join(words[:-1] + [words[-1] + "s"])) != text_hash(text)


def test_work_folder_of_other_inputs_is_discarded_and_the_same_is_kept(tmp_path, real):
    settings = DedupSettings(partitions=2)
    work, _, _ = run_pass1(tmp_path, [real[:20]], settings)
    work.prepare("inputs A", [[10, 1, 7]])
    assert not Path(work.keys_done(0)).is_file()  # a folder without its stamp is not trusted
    run_pass1(tmp_path, [real[:20]], settings)
    work.prepare("inputs A", [[10, 1, 7]])
    assert Path(work.keys_done(0)).is_file()  # the same inputs: pass 1 is not redone on resume
    work.prepare("inputs A", [[10, 2, 8]])  # same paths and sizes, but a shard was replaced
    assert not Path(work.keys_done(0)).is_file()
    run_pass1(tmp_path, [real[:20]], settings)
    work.prepare("inputs B", [[10, 2, 8]])
    assert not Path(work.keys_done(0)).is_file()


# ------------------------------------------------------------------------------ pass 2: edges


def planted_corpus(real: list[dict]) -> tuple[list[list[dict]], set[frozenset]]:
    """Two shards of real abstracts with planted copies: 20 near variants (1-2% of the words
    edited), 5 exact copies in another case and spacing (replay). Returns the shards and the
    expected clusters as gids."""
    rng = random.Random(7)
    originals = rng.sample(range(len(real)), 25)
    extra = []
    for n, i in enumerate(originals):
        doc = real[i]
        if n < 20:
            extra.append((i, dict(doc, id=f"variant:{doc['id']}", pmid=None, text=variant(doc["text"], rng))))
        else:
            extra.append((i, dict(doc, id=f"replay/copy:{n}", subset="replay", source="replay/copy", pmid=None,
                                  text="  " + doc["text"].upper().replace(" ", "\n "))))
    shards = [list(real), [e for _, e in extra]]
    expected = {frozenset({gid(0, i), gid(1, k)}) for k, (i, _) in enumerate(extra)}
    return shards, expected


def test_pass2_links_planted_copies_and_nothing_else(tmp_path, real):
    shards, expected = planted_corpus(real)
    settings = DedupSettings(partitions=4)
    work, _, _ = run_pass1(tmp_path, shards, settings)
    summaries = run_pass2(work, 2, settings)
    assert components(work, 4) == expected
    # Exact keys: the 5 copies share their original's normalised text (their ids and PMIDs differ).
    assert sum(s["exact_pairs"] for s in summaries) == 5
    # The 20 variants and the 5 copies (the same words: Jaccard 1) pass verification, each at
    # least once (a pair that shares bands in several partitions is verified in each).
    verified = sum(s["near_verified"] for s in summaries)
    assert sum(s["near_candidates"] for s in summaries) >= verified >= 20 + 5
    # The forest: each edge runs from its component's root (its smallest gid) to a member.
    for p in range(4):
        for root, node in np.load(work.edges(p)).tolist():
            assert root < node
    stamps = [Path(work.edges(p)).stat().st_mtime_ns for p in range(4)]  # a finished task is not redone
    assert run_pass2(work, 2, settings) == summaries and [Path(work.edges(p)).stat().st_mtime_ns for p in range(4)] == stamps

    # Verification decides: with an unreachable threshold, only the exact copies stay linked.
    strict = DedupSettings(partitions=4, minhash=MinhashConfig(jaccard_threshold=1.01))
    work2, _, _ = run_pass1(tmp_path / "strict", shards, strict)
    run_pass2(work2, 2, strict)
    copies = {c for c in expected if max(c) >= gid(1, 20)}
    assert components(work2, 4) == copies


def test_edges_and_plan_are_the_same_for_any_partition_count(tmp_path, real):
    shards, expected = planted_corpus(real[:200])
    plans = []
    for partitions in (1, 3, 16):
        settings = DedupSettings(partitions=partitions)
        work, _, _ = run_pass1(tmp_path / str(partitions), shards, settings)
        run_pass2(work, 2, settings)
        assert components(work, partitions) == expected
        files, counts = plan_drops(work, 2, partitions)
        # Edge counts differ (each partition keeps a spanning forest of its own edges); clusters do not.
        plans.append(([Path(f).read_bytes() for f, _ in files], counts["clusters"], counts["documents_in_clusters"]))
    assert plans[0] == plans[1] == plans[2] and plans[0][1:] == (25, 50)


# ------------------------------------------------------------------------- pass 3: the plan


def test_plan_reasons_and_survivors_on_real_abstracts(tmp_path, real):
    rng = random.Random(11)
    a, b, c, f, g, h = (dict(x) for x in real[:6])
    a.update(date="2001")
    first = variant(c["text"], rng)
    others = [
        # the same text in other case and spacing, newer: the abstract still wins (subset first)
        dict(a, subset="replay", source="replay/copy", id="replay/copy:1", pmid=None, date="2020", text=a["text"].upper() + "  "),
        dict(b, id="pubmed_titles:" + b["pmid"], text=b["title"]),  # the same PMID, another record of it
        dict(c, id="variant:1", pmid=None, text=first),
        dict(c, id="variant:2", pmid=None, text=variant(first, rng)),  # a variant of the variant: one cluster of 3
        # two distinct texts that share a DOI (written in another case): the newer survives
        dict(g, id="doi:old", pmid=None, doi="10.1002/14651858.CD000001", date="1999"),
        dict(h, id="doi:new", pmid=None, doi="10.1002/14651858.cd000001", date="2004"),
        dict(f, date=None),  # the same record read twice, undated
    ]
    assert b["pmid"] and b["title"] != b["text"]
    plan = run_all(tmp_path, [[a, b, c, f], others], DedupSettings(partitions=3))
    assert plan == {
        (1, 0): (f"exact_duplicate_of:{a['id']}", f"text_hash={text_hash(a['text'])}"),
        (1, 1): (f"pmid_duplicate_of:{b['id']}", f"pmid={b['pmid']}"),
        (1, 2): (f"near_duplicate_of:{c['id']}", "cluster of 3 documents"),
        (1, 3): (f"near_duplicate_of:{c['id']}", "cluster of 3 documents"),
        (1, 4): ("doi_duplicate_of:doi:new", "doi=10.1002/14651858.cd000001"),
        (1, 6): (f"duplicate_id:{f['id']}", "same document id"),
    }


def test_survivor_priority_full_text_then_newest_then_lowest_id(real):
    doc = real[0]
    abstract = dict(doc, subset="abstracts", date="2021-03-04")
    paper = dict(doc, id="pmc:PMC1", subset="papers", date="1998")
    guideline = dict(doc, id="guidelines/nice:1", subset="guidelines", date="2024")
    assert choose_survivor([guideline, abstract, paper]) is paper  # full text first, however old
    newer = dict(abstract, id="pubmed:2", date="2021-03-05")
    undated = dict(abstract, id="pubmed:0", date=None)
    assert choose_survivor([abstract, undated, newer]) is newer  # then the newest; no date is oldest
    twin = dict(abstract, id="pubmed:0")
    assert choose_survivor([abstract, twin]) is twin  # then the lowest id


# ------------------------------------------------------------ has_full_text on parsed records


@pytest.fixture(scope="module")
def parsed(tmp_path_factory) -> dict:
    abstracts, papers = parsed_abstracts_and_articles(tmp_path_factory.mktemp("parsed"))
    return {"abstracts": abstracts, "papers": papers}


def test_plan_names_the_full_text_of_a_parsed_pubmed_abstract(tmp_path, parsed):
    """No PubMed fixture's PMID has its full text among the JATS fixtures, so the ids of real parsed
    records are aligned: an article without PMID and one with, a record with and without PMCID."""
    by_pmid, by_pmcid = dict(parsed["abstracts"]["27797938"]), dict(parsed["abstracts"]["35123456"])
    paper_a, paper_b = dict(parsed["papers"]["PMC1790863"]), dict(parsed["papers"]["PMC2329613"])
    paper_a["pmid"], by_pmid["pmcid"] = by_pmid["pmid"], None
    paper_b["pmid"], by_pmcid["pmcid"] = None, paper_b["pmcid"].lower().removeprefix("pmc")  # pass 1 normalises PMCIDs
    again = dict(paper_a, provenance=paper_a["provenance"] + "#package")
    plan = run_all(tmp_path, [[by_pmid, by_pmcid], [paper_a, paper_b], [again]], DedupSettings(partitions=2))
    assert plan == {
        (0, 0): ("has_full_text:PMC1790863", "PMID match"),
        (0, 1): ("has_full_text:PMC2329613", "PMCID match"),
        (2, 0): (f"duplicate_id:{paper_a['id']}", "same document id"),
    }


def test_cohen_pmids_in_several_review_files_are_one_record(tmp_path):
    docs = cohen_docs()
    shards = [docs[:8000], docs[8000:]]
    plan = run_all(tmp_path, shards, DedupSettings(partitions=4, near=False))
    ids_of_text: dict = {}
    for doc in docs:
        ids_of_text.setdefault(text_hash(doc["text"]), set()).add(doc["id"])
    shared = {h for h, ids in ids_of_text.items() if len(ids) > 1}  # e.g. the title "Letter." alone
    seen, expected = set(), {}
    for s, rows in enumerate(shards):
        for p, doc in enumerate(rows):
            if doc["id"] in seen and text_hash(doc["text"]) not in shared:
                expected[(s, p)] = (f"duplicate_id:{doc['id']}", "same document id")
            seen.add(doc["id"])
    # A PMID whose text no other PMID has: its first row survives (same subset, date and id: the
    # lowest position), every later one is the same record again.
    assert {k: v for k, v in plan.items() if v[0].startswith("duplicate_id:")} == expected and len(expected) > 1000
    # A text that several PMIDs share is one exact cluster: one copy survives, the others name it.
    rest = {k: v for k, v in plan.items() if k not in expected}
    text_of = {f"{s}:{p}": text_hash(d["text"]) for s, rows in enumerate(shards) for p, d in enumerate(rows)}
    hash_of_id = {d["id"]: text_hash(d["text"]) for d in docs}
    assert rest and all(r.startswith("exact_duplicate_of:") and d == f"text_hash={text_of[f'{s}:{p}']}"
                        and hash_of_id[r.split(":", 1)[1]] == text_of[f"{s}:{p}"] for (s, p), (r, d) in rest.items())
    assert len(plan) == len(docs) - len({text_hash(d["text"]) for d in docs})  # one row of each text survives


# -------------------------------------------------------------------- pass 4: split by the plan


def test_pass4_splits_a_shard_by_its_plan_and_refuses_a_wrong_plan(tmp_path, real):
    shards, _ = planted_corpus(real[:100])
    settings = DedupSettings(partitions=2)
    work, paths, _ = run_pass1(tmp_path, shards, settings)
    run_pass2(work, 2, settings)
    files, _ = plan_drops(work, 2, 2)
    plan = pq.read_table(files[1][0])
    table = pq.read_table(paths[1])
    keep, dropped = split_by_plan(table, np.arange(table.num_rows), plan, "in-1")
    wanted = plan["position"].to_pylist()
    assert dropped["id"].to_pylist() == [table["id"][i].as_py() for i in wanted]
    assert keep.sum() + dropped.num_rows == table.num_rows and not keep[wanted].any()
    # Rows of an unreadable row group are absent: positions skip them and the plan still finds its rows.
    read = [i for i in range(table.num_rows) if i not in (0, 1)]
    sub = table.take(pa.array(read))
    survivors = plan.filter(pa.compute.greater_equal(plan["position"], 2))
    keep, dropped = split_by_plan(sub, np.array(read), survivors, "in-1")
    assert dropped["id"].to_pylist() == [table["id"][i].as_py() for i in survivors["position"].to_pylist()]
    twice = pa.concat_tables([plan.slice(0, 1), plan.slice(0, 1)])
    with pytest.raises(RuntimeError, match="names a row twice or a row the shard lacks"):
        split_by_plan(table, np.arange(table.num_rows), twice, "in-1")
    beyond = pa.table({"position": [table.num_rows], "reason": ["x"], "detail": ["y"]})
    with pytest.raises(RuntimeError, match="in-1: the dedup plan"):
        split_by_plan(table, np.arange(table.num_rows), beyond, "in-1")
