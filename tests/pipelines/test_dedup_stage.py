"""`medcurate dedup` on real abstracts: exact, identifier and near duplicates, decontamination,
resume, worker-count independence and accounting."""
import json
import random
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from curation.dedup.keys import normalize_for_hash
from curation.dedup.ngrams import ngram_strings
from curation.schema import DOCUMENT_SCHEMA, LEDGER_SCHEMA
from curation.shards import list_shards, read_table
from pipelines.executor import Executor
from peak_rss import run_measured
from pipelines.stages import dedup, pmc_parse
from realdata import CORPORA, QA, cohen_docs, distinct_abstracts, variant, write_shards


def docs_of(folder: Path) -> list[dict]:
    return read_table(list_shards(folder), DOCUMENT_SCHEMA).to_pylist()


def ledger_of(folder: Path) -> list[dict]:
    return read_table(list_shards(folder / "ledger"), LEDGER_SCHEMA).to_pylist()


def folder_bytes(folder: Path) -> dict:
    files = map(Path, list_shards(folder) + list_shards(folder / "ledger"))
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in files}


@pytest.fixture(scope="module")
def cohen(tmp_path_factory) -> Path:
    return write_shards(cohen_docs(), tmp_path_factory.mktemp("cohen") / "in", 2500)


def test_exact_and_pmid_dedup_on_cohen_keeps_every_pmid_once(cohen, tmp_path):
    docs = docs_of(cohen)
    files_per_pmid: dict = {}
    for d in docs:
        files_per_pmid.setdefault(d["pmid"], set()).add(d["provenance"].split("#")[0])
    repeated = {p for p, files in files_per_pmid.items() if len(files) > 1}
    assert len(repeated) > 1000  # SOURCES.md: 1,240 PMIDs in more than one file
    settings = dedup.DedupSettings(near=False)
    with Executor(scheduler="sync") as executor:
        stats = dedup.run([cohen], tmp_path / "out", executor, 1 << 26, settings)
    kept = docs_of(tmp_path / "out")
    kept_pmids = [d["pmid"] for d in kept]
    assert len(kept_pmids) == len(set(kept_pmids))
    texts = [normalize_for_hash(d["text"]) for d in kept]
    assert len(texts) == len(set(texts))
    ledger = ledger_of(tmp_path / "out")
    # A PMID is gone only when its text is another PMID's text (then that copy survives).
    gone = set(files_per_pmid) - set(kept_pmids)
    exact = {r["pmid"] for r in ledger if r["reason"].startswith("exact_duplicate_of:")}
    assert gone <= exact and len(gone) < 10
    assert repeated - gone <= set(kept_pmids)
    survivors = {d["id"] for d in kept}
    assert all(r["reason"].split(":", 1)[1] in survivors for r in ledger)
    # A PMID in several files is one record (pubmed:<pmid>) read several times: duplicate_id.
    assert {r["reason"].split(":")[0] for r in ledger} <= {"duplicate_id", "exact_duplicate_of", "pmid_duplicate_of"}
    assert sum(r["reason"].startswith("duplicate_id:") for r in ledger) > 1000
    assert stats["documents_in"] == len(docs) == stats["documents_out"] + stats["ledgered"]
    assert stats["by_source"]["pubmed"]["in"] == len(docs)


@pytest.mark.slow
def test_near_duplicates_planted_among_15000_real_abstracts(tmp_path):
    real = distinct_abstracts()
    assert len(real) >= 15000
    rng = random.Random(5)
    originals = rng.sample(real, 1000)
    variants = [dict(d, id=f"variant:{d['id']}", pmid=None, text=variant(d["text"], rng)) for d in originals]
    corpus = real + variants
    random.Random(1).shuffle(corpus)
    write_shards(corpus, tmp_path / "in", 2000)
    with Executor(scheduler="sync") as executor:
        dedup.run([tmp_path / "in"], tmp_path / "out", executor, 1 << 26)
    cluster: dict = {}
    for row in ledger_of(tmp_path / "out"):
        cluster[row["id"]] = row["reason"].split(":", 1)[1]
    truth = {v["id"]: o["id"] for v, o in zip(variants, originals)}
    found = sum(cluster.get(v) == o or cluster.get(o) == v for v, o in truth.items())
    recall = found / len(truth)
    groups: dict = {}
    for member, survivor in cluster.items():
        groups.setdefault(survivor, {survivor}).add(member)
    pairs = [(a, b) for g in groups.values() for a in g for b in g if a < b]
    planted_pairs = sum(truth.get(a) == b or truth.get(b) == a for a, b in pairs)
    # The real sets hold real near duplicates too (an article and its "Spotlight on" reprint,
    # Nagtegaal's own flagged duplicates): a merge is false only when the two texts are distinct,
    # i.e. their exact word 5-gram Jaccard is below 0.5.
    text = {d["id"]: d["text"] for d in corpus}

    def jaccard(a: str, b: str) -> float:
        x, y = set(ngram_strings(text[a], 5)), set(ngram_strings(text[b], 5))
        return len(x & y) / len(x | y)

    correct = sum(truth.get(a) == b or truth.get(b) == a or jaccard(a, b) >= 0.5 for a, b in pairs)
    precision = correct / len(pairs)
    print(
        f"near-duplicate recall {recall:.4f}, pairwise precision {precision:.4f} "
        f"({len(pairs)} pairs, {planted_pairs} planted, {correct - planted_pairs} real near duplicates)"
    )
    assert recall >= 0.95
    assert precision >= 0.99


def test_decontamination_in_the_stage_and_the_ledger_names_the_benchmark(tmp_path):
    real = distinct_abstracts()[:300]
    medqa = [json.loads(line) for line in (QA / "medqa" / "test.jsonl").read_text().splitlines()[:3]]
    docs = [dict(d) for d in real[:10]]
    docs[0]["text"] += "\n" + medqa[0]["question"]
    docs[1]["text"] += "\nWhich of the following is the most likely diagnosis?"
    write_shards(docs + real[10:], tmp_path / "in", 100)
    settings = dedup.DedupSettings(benchmarks=(str(QA / "medqa" / "test.jsonl"),))
    with Executor(scheduler="sync") as executor:
        stats = dedup.run([tmp_path / "in"], tmp_path / "out", executor, 1 << 26, settings)
    reasons = {r["id"]: r["reason"] for r in ledger_of(tmp_path / "out")}
    assert reasons[docs[0]["id"]] == "benchmark_contamination:medqa"
    assert docs[1]["id"] not in reasons
    assert stats["decontamination"]["documents"] == 1


def _small_corpus(tmp_path: Path) -> Path:
    real = distinct_abstracts()[:1200]
    rng = random.Random(2)
    extra = [dict(d, id=f"variant:{d['id']}", pmid=None, text=variant(d["text"], rng)) for d in real[:150]]
    extra += [dict(real[i], id=f"replay/x:{i}", source="replay/x", subset="replay", pmid=None) for i in range(150, 200)]
    return write_shards(real + extra, tmp_path / "in", 200)


def test_interrupted_dedup_resumes_to_the_same_bytes(tmp_path, monkeypatch):
    inputs = _small_corpus(tmp_path)
    with Executor(scheduler="sync") as executor:
        dedup.run([inputs], tmp_path / "clean", executor, 1 << 26)
    expected = folder_bytes(tmp_path / "clean")

    real_keys, real_apply = dedup.keys_task, dedup.apply_work
    calls = {"keys": 0, "apply": 0, "keys_computed": 0}

    def flaky_keys(spec):
        calls["keys"] += 1
        calls["keys_computed"] += not (Path(spec[0]) / "keys" / f"{spec[1]:05d}.done").is_file()
        if calls["keys"] == 4:
            raise KeyboardInterrupt("killed during the keys pass")
        return real_keys(spec)

    def flaky_apply(payload, output):
        calls["apply"] += 1
        if calls["apply"] == 3:
            raise KeyboardInterrupt("killed during the apply pass")
        return real_apply(payload, output)

    monkeypatch.setattr(dedup, "keys_task", flaky_keys)
    monkeypatch.setattr(dedup, "apply_work", flaky_apply)
    out = tmp_path / "resumed"
    for _ in range(3):
        try:
            with Executor(scheduler="sync") as executor:
                dedup.run([inputs], out, executor, 1 << 26)
            break
        except KeyboardInterrupt:
            pass
    # Each shard's keys were computed once (minus the killed call): finished tasks are not redone.
    assert calls["keys_computed"] == len(list_shards(inputs)) + 1
    assert folder_bytes(out) == expected
    assert not (out / dedup.WORK).exists()


def test_one_and_two_workers_give_identical_bytes(tmp_path):
    inputs = _small_corpus(tmp_path)
    with Executor(workers=1) as executor:
        dedup.run([inputs], tmp_path / "one", executor, 1 << 26)
    with Executor(workers=2) as executor:
        dedup.run([inputs], tmp_path / "two", executor, 1 << 26)
    one, two = folder_bytes(tmp_path / "one"), folder_bytes(tmp_path / "two")
    assert one == two and len(one) > 2
    stats = json.loads((tmp_path / "two" / "stats.json").read_text())
    assert stats["documents_in"] == stats["documents_out"] + stats["ledgered"]
    assert stats["by_source"]["replay/x"]["dropped"] == {"exact_duplicate_of": 50}
    assert (tmp_path / "two" / "plots" / "length_words.csv").read_text().startswith("words,documents_in,documents_out\n")


def test_cli_dedup_with_benchmarks_and_a_scheduler(tmp_path):
    from typer.testing import CliRunner

    from pipelines.cli import app

    inputs = _small_corpus(tmp_path)
    result = CliRunner().invoke(app, [
        "dedup", str(inputs), "--out", str(tmp_path / "out"), "--scheduler", "sync",
        "--benchmark", str(QA / "medqa" / "test.jsonl"), "--benchmark", f"mcqa={QA / 'medmcqa' / 'test.jsonl'}",
        "--metrics", str(tmp_path / "m.json"), "--plots", str(tmp_path / "plots"),
    ])
    assert result.exit_code == 0, result.output
    stats = json.loads((tmp_path / "m.json").read_text())
    # params.yaml lists its own benchmarks; the command adds the ones given with --benchmark.
    assert any(b.startswith("mcqa=") for b in stats["decontamination"]["benchmarks"])
    assert stats["reasons"]["near_duplicate_of"] >= 140
    assert (tmp_path / "plots" / "dedup_length_chars.csv").is_file()
    assert pq.ParquetFile(list_shards(tmp_path / "out")[0]).schema_arrow.equals(DOCUMENT_SCHEMA)


def _huge(docs: list[dict], size: int, ident: str) -> dict:
    """A document of at least `size` bytes of real abstracts, one after another."""
    parts, total, i = [], 0, 0
    while total < size:
        parts.append(docs[i % len(docs)]["text"])
        total += len(parts[-1].encode()) + 1
        i += 1
    return dict(docs[0], id=ident, pmid=None, text="\n".join(parts))


def test_a_text_above_max_text_bytes_is_ledgered_too_large_not_hashed(tmp_path):
    real = distinct_abstracts()[:400]
    big = _huge(real, 300_000, "book:1")
    copy = dict(big, id="book:2")  # an exact copy: too large as well, and nobody's duplicate
    write_shards(real[:200] + [big] + real[200:] + [copy, dict(real[5], id="replay/x:5", source="replay/x", subset="replay", pmid=None)], tmp_path / "in", 150)
    settings = dedup.DedupSettings(max_text_bytes=200_000)
    with Executor(scheduler="sync") as executor:
        stats = dedup.run([tmp_path / "in"], tmp_path / "out", executor, 1 << 26, settings)
    ledger = {r["id"]: r for r in ledger_of(tmp_path / "out")}
    size = len(big["text"].encode())
    for ident in ("book:1", "book:2"):
        assert ledger[ident]["reason"] == "too_large"
        assert ledger[ident]["detail"] == f"{size} bytes of text, above dedup.max_text_bytes=200000"
        assert ledger[ident]["text"] == big["text"]  # the ledger keeps the document as it was
    assert ledger["replay/x:5"]["reason"] == f"exact_duplicate_of:{real[5]['id']}"  # the rest deduplicated as ever
    assert len(ledger) == 3 and stats["reasons"] == {"exact_duplicate_of": 1, "too_large": 2}
    assert stats["documents_in"] == 403 == stats["documents_out"] + stats["ledgered"]
    assert stats["by_source"]["pubmed"]["dropped"] == {"too_large": 2}


def test_the_default_cap_ledgers_a_17_mb_text(tmp_path):
    real = distinct_abstracts()[:50]
    big = _huge(real, 17 << 20, "dump:1")
    write_shards(real + [big], tmp_path / "in", 100)
    with Executor(scheduler="sync") as executor:
        stats = dedup.run([tmp_path / "in"], tmp_path / "out", executor, 1 << 26)
    assert [(r["id"], r["reason"]) for r in ledger_of(tmp_path / "out")] == [("dump:1", "too_large")]
    assert stats["documents_out"] == 50


DEDUP_WITH_MEDQA = """
from pathlib import Path
from pipelines.executor import Executor
from pipelines.stages import dedup
settings = dedup.DedupSettings(benchmarks=({medqa!r},))
with Executor(scheduler="sync") as executor:
    stats = dedup.run([Path({inputs!r})], Path({out!r}), executor, 1 << 26, settings)
print(stats["documents_out"])
"""


def test_pass_one_hashes_full_texts_a_run_at_a_time(tmp_path):
    """MinHash and decontamination hash about 1 MB of text at a time, whatever the batch of rows:
    one shard of 1,950 real full-text papers (82 MB of text, one 4,096-row batch) took 3.3 GB when
    decontamination hashed the whole batch at once; now under 1.6 GB, the shard's own text and
    the output included."""
    with Executor(scheduler="sync") as executor:
        pmc_parse.run([CORPORA / "fulltext"], tmp_path / "parsed", executor, 1 << 26)
    papers = docs_of(tmp_path / "parsed")
    copies = [dict(p, id=f"{p['id']}:{k}", pmid=None, pmcid=None, doi=None) for k in range(15) for p in papers]
    assert sum(len(d["text"]) for d in copies) > 80_000_000
    write_shards(copies, tmp_path / "in", len(copies))
    code = DEDUP_WITH_MEDQA.format(medqa=str(QA / "medqa" / "test.jsonl"), inputs=str(tmp_path / "in"), out=str(tmp_path / "out"))
    stdout, peak_mb = run_measured(code)
    assert int(stdout.split()[-1]) == len(papers)  # every copy is an exact duplicate of its paper
    assert peak_mb < 1600, f"dedup of 82 MB of full text peaked at {peak_mb:.0f} MB"


def test_a_shard_replaced_while_dedup_runs_stops_it_with_a_clear_error(tmp_path):
    """Each shard's clusters reach into the others: a shard an upstream run replaces meanwhile (by
    rename, as every stage writes) makes the whole plan wrong. Before, the passes read whichever
    version was there, with nothing said (same rows and row groups, other texts)."""
    from renaming_writer import RenamingWriter

    real = distinct_abstracts()[:400]
    inputs = write_shards(real, tmp_path / "in", 200)
    shard = Path(list_shards(inputs)[1])
    revised = write_shards([dict(d, text=d["text"] + " Revised.") for d in real[200:]], tmp_path / "revised", 200)
    writer = RenamingWriter(shard, [shard.read_bytes(), Path(list_shards(revised)[0]).read_bytes()], fresh=True)
    with writer, Executor(workers=2) as executor:  # tasks start in worker processes, well after planning
        with pytest.raises(RuntimeError, match=r"part-00001-0000.parquet: changed while dedup ran .* run dedup again"):
            dedup.run([inputs], tmp_path / "out", executor, 1 << 26)
    assert writer.renames > 0


@pytest.mark.parametrize("keep_work", [True, False], ids=["resumed", "completed"])
def test_a_shard_replaced_by_one_of_the_same_size_is_read_again(tmp_path, keep_work):
    """A run names its inputs by path and size, and by each file's identity: the second copy of an
    abstract differs by one letter (a near duplicate), then the shard is replaced by one of the same
    size where it is exact. A second run, resuming the kept work folder or finding the stage
    complete, must see the exact duplicate (before: the first run's keys, or its output kept)."""
    first, second = distinct_abstracts()[:2]
    text = first["text"]
    near = text[:40] + ("b" if text[40] != "b" else "c") + text[41:]
    def shard_with(copy_text: str) -> bytes:
        rows = [first, second, dict(second, id="replay/x:1", source="replay/x", subset="replay", pmid=None, text=copy_text)]
        path = tmp_path / "tmp.parquet"
        pq.write_table(pa.Table.from_pylist(rows, schema=DOCUMENT_SCHEMA), path, compression="none",
                       use_dictionary=False, write_statistics=False)
        return path.read_bytes()
    before, after = shard_with(near), shard_with(text)
    assert len(before) == len(after) and before != after
    inputs = tmp_path / "in"
    inputs.mkdir()
    shard = inputs / "part-00000-0000.parquet"
    shard.write_bytes(before)
    settings = dedup.DedupSettings(keep_work=keep_work, benchmarks=())
    out = tmp_path / "out"
    with Executor(scheduler="sync") as executor:
        dedup.run([inputs], out, executor, 1 << 26, settings)
    assert [r["reason"].split(":")[0] for r in ledger_of(out)] == ["near_duplicate_of"]
    replacement = inputs / "next.tmp"
    replacement.write_bytes(after)
    replacement.replace(shard)  # as a stage writes: a new file renamed over the old
    with Executor(scheduler="sync") as executor:
        dedup.run([inputs], out, executor, 1 << 26, settings)
    assert [r["reason"].split(":")[0] for r in ledger_of(out)] == ["exact_duplicate_of"]
