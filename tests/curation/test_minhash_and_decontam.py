"""Our vectorised MinHash against datasketch, LSH/union-find pieces, and decontamination on real QA sets."""
import json
import random

import numpy as np
from datasketch import MinHash

from curation.dedup.decontam import BenchmarkIndex, benchmark_name, cache_index, index_key, load_or_build, stage_index
from curation.dedup.minhash import MinhashConfig, bucket_pairs, connected_components, estimate_jaccard, signatures
from curation.dedup.ngrams import hash_ngrams, ngram_strings
from realdata import QA, distinct_abstracts, variant


def test_signatures_agree_with_datasketch_estimates():
    real = distinct_abstracts()[:150]
    rng = random.Random(3)
    ours, theirs, truth = [], [], []
    for doc in real:
        other = variant(doc["text"], rng) if rng.random() < 0.7 else rng.choice(real)["text"]
        a, b = set(ngram_strings(doc["text"], 5)), set(ngram_strings(other, 5))
        truth.append(len(a & b) / len(a | b))
        sig = signatures([doc["text"], other], MinhashConfig())
        ours.append(estimate_jaccard(sig[0], sig[1]))
        ma, mb = MinHash(num_perm=120, seed=1), MinHash(num_perm=120, seed=1)
        ma.update_batch([s.encode() for s in a])
        mb.update_batch([s.encode() for s in b])
        theirs.append(ma.jaccard(mb))
    ours, theirs, truth = map(np.array, (ours, theirs, truth))
    assert abs(np.mean(ours - truth)) < 0.02 and np.std(ours - truth) < 0.06
    assert np.mean(np.abs(ours - theirs)) < 0.06
    assert abs(np.mean(np.abs(ours - truth)) - np.mean(np.abs(theirs - truth))) < 0.02


def test_ngram_hashes_match_the_string_ngrams():
    texts = ["Ramipril 10 mg/day reduced regurgitation, in RAMIPRIL   patients.", "two words", "", "ÉTUDE de l'effet"]
    grams = hash_ngrams(texts, 3)
    for i, text in enumerate(texts):
        assert grams.of(i).size == len(ngram_strings(text, 3))
    again = hash_ngrams(["ramipril 10 mg day reduced"], 3)
    assert set(again.of(0)) <= set(grams.of(0))


def test_buckets_and_components():
    band = np.array([0, 0, 0, 1, 1, 0])
    key = np.array([7, 7, 7, 7, 7, 9], dtype=np.uint64)
    ids = np.array([30, 10, 20, 40, 10, 50])
    assert bucket_pairs(band, key, ids).tolist() == [[10, 20], [10, 30], [10, 40], [20, 30]]
    nodes, roots = connected_components(np.array([[5, 9], [1, 5], [2, 3], [9, 4]]))
    assert dict(zip(nodes.tolist(), roots.tolist())) == {1: 1, 4: 1, 5: 1, 9: 1, 2: 2, 3: 2}


def test_medqa_and_medmcqa_planted_items_are_found_common_phrases_are_not():
    medqa = [json.loads(x) for x in (QA / "medqa" / "test.jsonl").read_text().splitlines()]
    mcqa = [json.loads(x) for x in (QA / "medmcqa" / "test.jsonl").read_text().splitlines()]
    index = BenchmarkIndex([str(QA / "medqa" / "test.jsonl"), str(QA / "medmcqa" / "test.jsonl")])
    real = [d["text"] for d in distinct_abstracts()[:400]]
    rng = random.Random(0)
    planted, names = [], []
    for item in rng.sample(medqa, 50):
        planted.append(rng.choice(real) + "\n" + item["question"])
        names.append("medqa")
    long_mcqa = [m for m in mcqa if len((m["question"] + " " + " ".join(m["options"].values())).split()) >= 16]
    for item in rng.sample(long_mcqa, 50):
        # A short MCQA question is recognised with its options, as its fields form the item.
        planted.append(f"{item['question']} " + " ".join(v for _, v in sorted(item["options"].items())) + "\n" + rng.choice(real))
        names.append("medmcqa")
    found = index.find(planted, [None] * len(planted))
    assert [m.benchmark if m else None for m in found] == names
    common = [t + " Which of the following is the most likely diagnosis in this patient?" for t in real[:100]]
    common += [t + " A 45-year-old man comes to the emergency department because of chest pain." for t in real[100:200]]
    assert index.find(common, [None] * len(common)) == [None] * len(common)
    assert index.find(real, [None] * len(real)) == [None] * len(real)


def test_benchmark_index_cached_by_content_finds_the_same(tmp_path):
    medqa = [json.loads(x) for x in (QA / "medqa" / "test.jsonl").read_text().splitlines()]
    copy = tmp_path / "medqa.jsonl"
    copy.write_text("\n".join(json.dumps(item) for item in medqa[:300]) + "\n")
    listed = tmp_path / "pmids.txt"
    listed.write_text("12345\n")
    specs = [f"medqa={copy}", f"pqa={listed}"]
    cache = tmp_path / "cache"
    built = BenchmarkIndex(specs)
    path = cache_index(specs, built.config, cache)
    loaded = load_or_build(specs, built.config, cache)
    assert path.exists() and np.array_equal(loaded.hashes, built.hashes) and np.array_equal(loaded.items, built.items)
    real = [d["text"] for d in distinct_abstracts()[:50]]
    texts = [real[i] + "\n" + medqa[i]["question"] for i in range(20)] + real[20:]
    pmids = ["12345"] + [None] * (len(texts) - 1)
    expected = [(m.reason, m.detail) if m else None for m in built.find(texts, pmids)]
    assert sum(e is not None for e in expected) == 20
    assert [(m.reason, m.detail) if m else None for m in loaded.find(texts, pmids)] == expected
    # The key follows the files' contents, not their names or times; a damaged cache file is rebuilt.
    key = index_key(specs, built.config)
    copy.write_text(copy.read_text() + json.dumps(medqa[301]) + "\n")
    assert index_key(specs, built.config) != key
    damaged = cache_index(specs, built.config, cache)
    damaged.write_bytes(b"not an npz")
    again = load_or_build(specs, built.config, cache)
    assert [(m.reason, m.detail) if m else None for m in again.find(texts, pmids)] == expected
    # A cache file cut short (a zip without its directory) is rebuilt where the stage plans, so
    # the index it puts in the work folder for the workers loads.
    cached = cache_index(specs, built.config, cache)
    cached.write_bytes(cached.read_bytes()[:1000])
    staged = tmp_path / "work" / "benchmark-index.npz"
    stage_index(specs, built.config, cache, str(staged))
    from_work = BenchmarkIndex.load(str(staged), built.config)
    assert [(m.reason, m.detail) if m else None for m in from_work.find(texts, pmids)] == expected


def test_pmid_lists_and_benchmark_names(tmp_path):
    listed = tmp_path / "pubmedqa_pmids.txt"
    listed.write_text("12345\n67890\n")
    index = BenchmarkIndex([f"pqa={listed}"])
    match = index.find(["any text at all"], ["67890"])[0]
    assert match.reason == "benchmark_contamination:pqa" and match.how == "pmid"
    assert benchmark_name(str(QA / "medqa" / "test.jsonl"))[0] == "medqa"


def test_arrow_plan_agrees_with_the_row_by_row_rule():
    import pyarrow as pa

    from curation.dedup.cluster_reasons import plan_cluster_drops, plan_table

    rng = random.Random(3)
    members = []
    for key in range(3000):
        members.append({
            "key": key, "root": rng.randrange(400), "id": f"x:{rng.randrange(2500)}",
            "subset": rng.choice(["papers", "abstracts", "abstracts", "guidelines", "replay"]),
            "date": rng.choice([None, "", "2020", "2020-05", "2019-12-31", "2021"]),
            "text_hash": rng.choice(["a", "b", "c", None]), "pmid": rng.choice([None, "1", "2", "3"]),
            "pmcid": rng.choice([None, "PMC1", "PMC2"]), "doi": rng.choice([None, "10.1/x"]),
        })
    expected = plan_cluster_drops(members, {m["key"]: m["root"] for m in members})
    table = plan_table(pa.Table.from_pylist(members))
    got = dict(zip(table["key"].to_pylist(), zip(table["reason"].to_pylist(), table["detail"].to_pylist())))
    assert got == expected
    assert {r.split(":")[0] for r, _ in got.values()} >= {"duplicate_id", "has_full_text", "exact_duplicate_of", "near_duplicate_of"}


def test_a_benchmark_file_replaced_while_its_index_is_cached_is_cached_under_its_own_key(tmp_path):
    """The key hashed the file by its path, then the index read it again: a rename in between
    stored one version's index under the other version's key, where later runs would load it."""
    from renaming_writer import RenamingWriter

    medqa = [json.loads(x) for x in (QA / "medqa" / "test.jsonl").read_text().splitlines()[:6]]
    padding = " " * (8 << 20) + "\n"  # a blank line, skipped by the index, that takes a while to hash
    versions = {tag: ("".join(json.dumps({**item, "realidx": f"{tag}{i}"}) + "\n" for i, item in enumerate(items)) + padding).encode()
                for tag, items in (("a", medqa[:3]), ("b", medqa[3:]))}
    keys = {}
    for tag, data in versions.items():
        (tmp_path / tag).mkdir()
        (tmp_path / tag / "medqa.jsonl").write_bytes(data)
        keys[index_key([f"medqa={tmp_path / tag / 'medqa.jsonl'}"], BenchmarkIndex([]).config)] = tag
    (tmp_path / "bench").mkdir()
    writer = RenamingWriter(tmp_path / "bench" / "medqa.jsonl", list(versions.values()))
    cached = []
    with writer:
        for n in range(12):
            path = cache_index([f"medqa={writer.path}"], BenchmarkIndex([]).config, tmp_path / f"cache{n}")
            labels = BenchmarkIndex.load(path, BenchmarkIndex([]).config).item_labels
            cached.append((keys[path.name[len("benchmark-index-"):-len(".npz")]], labels[0][0]))
    assert [pair for pair in cached if pair[0] != pair[1]] == []
    assert {content for _, content in cached} == {"a", "b"}
