"""`medcurate pubmed parse` as a stage: every record accounted for, deletions, versions, resume."""
import gzip
import hashlib
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from lxml import etree

from conftest import CORPORA, FIXTURES, REPO
from curation.accounting import AccountingError
from curation.schema import DOCUMENT_SCHEMA, ERROR_SCHEMA, LEDGER_SCHEMA
from curation.shards import list_shards, read_table
from pipelines.executor import Executor
from pipelines.stages import pubmed_parse

PUBMED_INPUTS = [FIXTURES / "pubmed_xml", CORPORA / "pubmed_xml"]
UPDATE_1335 = FIXTURES / "pubmed_xml" / "updatefiles" / "pubmed26n1335.xml.gz"
BASELINE_1334 = FIXTURES / "pubmed_xml" / "baseline" / "pubmed26n1334.xml.gz"


def read_xml(path: Path) -> bytes:
    data = path.read_bytes()
    return gzip.decompress(data) if data[:2] == b"\x1f\x8b" else data


def independent_pmids(path: Path) -> list[str]:
    """PMIDs of every PubmedArticle, counted with plain lxml (not our parser)."""
    root = etree.fromstring(read_xml(path), etree.XMLParser(resolve_entities=False, load_dtd=False, no_network=True))
    return [a.findtext("MedlineCitation/PMID") for a in root.iter("PubmedArticle")]


def deleted_pmids(path: Path) -> list[str]:
    root = etree.fromstring(read_xml(path), etree.XMLParser(resolve_entities=False, load_dtd=False, no_network=True))
    return [p.text for p in root.iterfind("DeleteCitation/PMID")]


def run_parse(inputs, out: Path) -> dict:
    with Executor(scheduler="sync") as executor:
        pubmed_parse.run(inputs, out, executor, shard_bytes=1 << 20)
    return json.loads((out / "stats.json").read_text())


def tables(out: Path):
    docs = read_table(list_shards(out), DOCUMENT_SCHEMA)
    ledger = read_table(list_shards(out / "ledger"), LEDGER_SCHEMA)
    errors = read_table(list_shards(out / "errors"), ERROR_SCHEMA)
    return docs, ledger, errors


def test_every_pubmed_article_in_shared_becomes_a_document_or_a_ledger_entry(tmp_path):
    stats = run_parse(PUBMED_INPUTS, tmp_path / "out")
    files = [p for p in pubmed_parse.order_inputs(PUBMED_INPUTS)]
    expected = sum(len(independent_pmids(p)) for p in files)
    docs, ledger, errors = tables(tmp_path / "out")
    assert stats["documents_in"] == expected
    assert docs.num_rows + ledger.num_rows + stats["record_errors"] == expected
    assert stats["input_errors"] == 0 and stats["inputs"] == len(files)
    assert set(ledger["reason"].to_pylist()) <= {"no_abstract", "no_text"} | {
        r for r in ledger["reason"].to_pylist() if r.startswith(("superseded", "deleted_by_update"))
    }
    assert all(docs["id"][i].as_py() == f"pubmed:{docs['pmid'][i].as_py()}" for i in range(docs.num_rows))
    assert len(set(docs["id"].to_pylist())) == docs.num_rows


def test_release_order_puts_baseline_before_updates_by_number():
    names = [
        Path("raw/updatefiles/pubmed26n1335.xml.gz"),
        Path("raw/efetch-0001.xml"),
        Path("raw/baseline/pubmed26n1334.xml.gz"),
        Path("raw/baseline/pubmed21n0001.xml.gz"),
        Path("raw/updatefiles/pubmed20n1203_sample.xml.gz"),
    ]
    ordered = [p.name for p in sorted(names, key=pubmed_parse.release_order)]
    assert ordered == ["pubmed20n1203_sample.xml.gz", "pubmed21n0001.xml.gz", "pubmed26n1334.xml.gz", "pubmed26n1335.xml.gz", "efetch-0001.xml"]


def write_records(path: Path, pmids: list[str], version: str = "1") -> None:
    """Real baseline records from pubmed26n1334, renumbered to the given PMIDs."""
    root = etree.fromstring(read_xml(BASELINE_1334), etree.XMLParser(resolve_entities=False, load_dtd=False, no_network=True))
    articles = [a for a in root.iter("PubmedArticle") if a.find("MedlineCitation/Article/Abstract") is not None]
    out = etree.Element("PubmedArticleSet")
    for pmid, article in zip(pmids, articles):
        pmid_el = article.find("MedlineCitation/PMID")
        pmid_el.text, pmid_el.attrib["Version"] = pmid, version
        for article_id in article.iterfind("PubmedData/ArticleIdList/ArticleId[@IdType='pubmed']"):
            article_id.text = pmid
        out.append(article)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(gzip.compress(etree.tostring(out, xml_declaration=True, encoding="UTF-8"), mtime=0))


def test_delete_citation_of_the_real_update_removes_earlier_records(tmp_path):
    doomed = deleted_pmids(UPDATE_1335)
    assert len(doomed) == 6
    raw = tmp_path / "raw"
    write_records(raw / "baseline" / "pubmed26n0001.xml.gz", doomed + ["99000001"])
    (raw / "updatefiles").mkdir()
    shutil.copy(UPDATE_1335, raw / "updatefiles" / UPDATE_1335.name)
    run_parse([raw], tmp_path / "out")
    docs, ledger, _ = tables(tmp_path / "out")
    assert not set(doomed) & set(docs["pmid"].to_pylist())
    assert "99000001" in docs["pmid"].to_pylist()
    reasons = {row["pmid"]: row["reason"] for row in ledger.to_pylist() if row["pmid"] in doomed}
    assert reasons == {pmid: "deleted_by_update:pubmed26n1335.xml.gz" for pmid in doomed}


def test_highest_version_wins_and_later_files_replace_earlier(tmp_path):
    raw = tmp_path / "raw"
    write_records(raw / "baseline" / "pubmed26n0001.xml.gz", ["99000001", "99000002"])
    write_records(raw / "updatefiles" / "pubmed26n0002.xml.gz", ["99000001"], version="2")
    write_records(raw / "updatefiles" / "pubmed26n0003.xml.gz", ["99000002"])
    run_parse([raw], tmp_path / "out")
    docs, ledger, _ = tables(tmp_path / "out")
    by_pmid = {row["pmid"]: row for row in docs.to_pylist()}
    assert json.loads(by_pmid["99000001"]["meta"])["version"] == 2
    assert "pubmed26n0003" in json.loads(by_pmid["99000002"]["provenance"])["file"]
    assert sorted(ledger["reason"].to_pylist()) == ["superseded", "superseded"]


def test_article_without_pmid_is_counted_and_ledgered_no_pmid_and_positions_stay_aligned(tmp_path):
    """A real baseline file with the <PMID> of its 2nd article removed, then an update file that
    supersedes its 4th article: the PMID-less record is a document in, ledgered `no_pmid`, and
    the supersession still lands on the 4th article (the scan and the parse count alike)."""
    parser = etree.XMLParser(resolve_entities=False, load_dtd=False, no_network=True)
    root = etree.fromstring(read_xml(BASELINE_1334), parser)
    articles = list(root.iter("PubmedArticle"))
    orphan, replaced = articles[1], articles[3]
    orphan_title = orphan.findtext("MedlineCitation/Article/ArticleTitle")
    pmid_el = orphan.find("MedlineCitation/PMID")
    pmid_el.getparent().remove(pmid_el)
    replaced_pmid = replaced.findtext("MedlineCitation/PMID")
    raw = tmp_path / "raw"
    (raw / "baseline").mkdir(parents=True)
    (raw / "updatefiles").mkdir()
    (raw / "baseline" / BASELINE_1334.name).write_bytes(
        gzip.compress(etree.tostring(root, xml_declaration=True, encoding="UTF-8"), mtime=0))
    update = etree.Element("PubmedArticleSet")
    update.append(etree.fromstring(etree.tostring(replaced), parser))
    (raw / "updatefiles" / "pubmed26n1400.xml.gz").write_bytes(
        gzip.compress(etree.tostring(update, xml_declaration=True, encoding="UTF-8"), mtime=0))

    stats = run_parse([raw], tmp_path / "out")
    docs, ledger, errors = tables(tmp_path / "out")
    assert stats["documents_in"] == len(articles) + 1
    assert docs.num_rows + ledger.num_rows + errors.num_rows == len(articles) + 1
    assert stats["reasons"]["no_pmid"] == 1 and errors.num_rows == 0
    (orphan_row,) = [row for row in ledger.to_pylist() if row["reason"] == "no_pmid"]
    assert orphan_row["pmid"] is None and orphan_row["title"] == orphan_title.strip()
    assert json.loads(orphan_row["provenance"])["record"] == 1
    superseded = [row["pmid"] for row in ledger.to_pylist() if row["reason"] == "superseded"]
    assert superseded == [replaced_pmid]
    kept = docs["pmid"].to_pylist()
    assert len(kept) == len(set(kept)) and replaced_pmid in kept


def test_bad_files_go_to_the_error_ledger_and_the_run_goes_on(tmp_path):
    raw = tmp_path / "raw"
    raw.mkdir()
    shutil.copy(BASELINE_1334, raw / "pubmed26n1334.xml.gz")
    data = BASELINE_1334.read_bytes()
    (raw / "pubmed26n1336.xml.gz").write_bytes(data[: len(data) // 2])  # truncated download
    (raw / "empty.xml").write_bytes(b"")
    (raw / "xxe.xml").write_text(
        '<?xml version="1.0"?><!DOCTYPE PubmedArticleSet [<!ENTITY x SYSTEM "file:///etc/passwd">]>'
        "<PubmedArticleSet><PubmedArticle><MedlineCitation><PMID>1</PMID><Article><ArticleTitle>&x;</ArticleTitle>"
        "</Article></MedlineCitation></PubmedArticle></PubmedArticleSet>"
    )
    stats = run_parse([raw], tmp_path / "out")
    docs, ledger, errors = tables(tmp_path / "out")
    failed = {Path(p).name for p in errors["input"].to_pylist()}
    assert failed == {"pubmed26n1336.xml.gz", "empty.xml", "xxe.xml"}
    assert stats["input_errors"] == 3 and stats["inputs_parsed"] == 1
    assert "root:" not in " ".join(docs["text"].to_pylist() + errors["error"].to_pylist())
    assert docs.num_rows + ledger.num_rows >= len(independent_pmids(BASELINE_1334))


def snapshot(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.mark.slow
def test_kill_9_in_the_middle_then_rerun_gives_identical_bytes(tmp_path):
    raw = tmp_path / "raw"
    for copy in range(6):  # enough tasks that a kill lands in the middle
        for source in pubmed_parse.order_inputs(PUBMED_INPUTS):
            target = raw / f"copy{copy}" / source.name
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy(source, target)
    params = tmp_path / "params.yaml"
    params.write_text("run:\n  shard_mb: 0.02\n")
    cmd = [sys.executable, "-m", "pipelines.cli", "pubmed", "parse", str(raw), "--scheduler", "sync", "--params", str(params)]
    env = dict(os.environ, PYTHONPATH=str(REPO))
    subprocess.run(cmd + ["--out", str(tmp_path / "reference")], check=True, env=env, capture_output=True)
    reference = snapshot(tmp_path / "reference")

    out = tmp_path / "interrupted"
    victim = subprocess.Popen(cmd + ["--out", str(out)], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and len(list((out / "_tasks").glob("0*.json"))) < 5:
        time.sleep(0.005)
    victim.send_signal(signal.SIGKILL)
    victim.wait()
    done = len(list((out / "_tasks").glob("0*.json")))
    assert 0 < done < len(pubmed_parse.order_inputs([raw])), "the kill should land mid-run"
    subprocess.run(cmd + ["--out", str(out)], check=True, env=env, capture_output=True)
    assert snapshot(out) == reference


# ---------------------------------------------------------------- the record count is the scan's, not the parser's


def baseline_with(tmp_path: Path, edit) -> tuple[Path, int]:
    """The real baseline file pubmed26n1334 with `edit(xml_text)` applied, gzipped in a raw folder."""
    raw = tmp_path / "raw"
    raw.mkdir()
    text = edit(read_xml(BASELINE_1334).decode("utf-8"))
    (raw / BASELINE_1334.name).write_bytes(gzip.compress(text.encode("utf-8"), mtime=0))
    return raw, len(independent_pmids(BASELINE_1334))


def test_a_malformed_record_mid_file_leaves_the_records_after_it_counted_unread(tmp_path):
    """The parser stops at the broken record (a file-level error); the byte scan still counts every
    record, so the ones the parser never reached are documents_unread, not silently gone."""
    def break_tenth(text):
        at = [i for i in range(len(text)) if text.startswith("<PubmedArticle>", i)][9]
        return text[:at] + text[at:].replace("</ArticleTitle>", "</ArticleTitel>", 1)
    raw, n = baseline_with(tmp_path, break_tenth)
    stats = run_parse([raw], tmp_path / "out")
    assert stats["input_errors"] == 1 and stats["documents_in"] == 9
    assert stats["documents_unread"] == n - 9
    _, _, errors = tables(tmp_path / "out")
    assert "invalid XML" in errors["error"][0].as_py()


def test_truncated_gzip_counts_the_records_cut_off_as_unread(tmp_path):
    raw = tmp_path / "raw"
    raw.mkdir()
    data = BASELINE_1334.read_bytes()
    (raw / "pubmed26n1336.xml.gz").write_bytes(data[: len(data) // 2])
    stats = run_parse([raw], tmp_path / "out")
    assert stats["input_errors"] == 1 and stats["documents_in"] > 0
    assert stats["documents_unread"] >= 1  # at least the record the cut went through


def test_records_the_parser_does_not_see_fail_the_accounting(tmp_path):
    """A default namespace on the root: every <PubmedArticle> is {ns}PubmedArticle to the parser,
    which then yields nothing and raises nothing. The byte scan counts them: the stage fails."""
    raw, n = baseline_with(tmp_path, lambda t: t.replace("<PubmedArticleSet>", '<PubmedArticleSet xmlns="urn:x">', 1))
    with pytest.raises(AccountingError, match=f"inputs hold {n} documents but documents_in=0"):
        run_parse([raw], tmp_path / "out")


def test_a_pmid_the_parser_reads_differently_from_the_scan_is_an_unreadable_record(tmp_path):
    """A PMID written as a character reference: the parser reads the number, the byte scan
    cannot; supersession was decided on the scan's reading, so the record is not emitted as if
    it had been checked: it is an error-ledger row, and every other record goes on."""
    first = independent_pmids(BASELINE_1334)[0]
    raw, n = baseline_with(tmp_path, lambda t: t.replace(f">{first}</PMID>", f">&#{ord(first[0])};{first[1:]}</PMID>", 1))
    stats = run_parse([raw], tmp_path / "out")
    docs, ledger, errors = tables(tmp_path / "out")
    assert stats["documents_in"] == n and stats["record_errors"] == 1
    assert errors["record"].to_pylist() == [first] and "record scan read PMID None" in errors["error"][0].as_py()
    assert first not in docs["pmid"].to_pylist()


def test_command_on_small_files_runs_in_process_with_the_bytes_of_a_cluster_run(tmp_path):
    """`medcurate pubmed parse` sizes its workers by input: two fixture files (200 KB) run in the
    command's process (no cluster); forced onto 2 local workers, the same bytes come out."""
    inputs = [str(BASELINE_1334), str(UPDATE_1335)]
    env = dict(os.environ, PYTHONPATH=str(REPO))
    forced = tmp_path / "params.yaml"
    forced.write_text("run:\n  workers: 2\n  mb_per_worker: 0.000001\n")
    small = subprocess.run([sys.executable, "-m", "pipelines.cli", "pubmed", "parse", *inputs, "--out", str(tmp_path / "a")],
                           env=env, capture_output=True, text=True, check=True)
    cluster = subprocess.run([sys.executable, "-m", "pipelines.cli", "pubmed", "parse", *inputs, "--out", str(tmp_path / "b"),
                              "--params", str(forced)], env=env, capture_output=True, text=True, check=True)
    assert "running in-process" in small.stderr and "running in-process" not in cluster.stderr
    assert snapshot(tmp_path / "a") == snapshot(tmp_path / "b")


def test_a_deletion_the_parser_reads_differently_from_the_scan_stops_the_file(tmp_path):
    """The real update file with one deleted PMID written as a character reference: deletions
    were decided on the scan's reading, so the file goes to the error ledger, naming why."""
    doomed = deleted_pmids(UPDATE_1335)[0]
    text = read_xml(UPDATE_1335).decode("utf-8")
    at = text.index("<DeleteCitation>")
    text = text[:at] + text[at:].replace(f">{doomed}</PMID>", f">&#{ord(doomed[0])};{doomed[1:]}</PMID>", 1)
    raw = tmp_path / "raw"
    raw.mkdir()
    (raw / UPDATE_1335.name).write_bytes(gzip.compress(text.encode("utf-8"), mtime=0))
    stats = run_parse([raw], tmp_path / "out")
    _, _, errors = tables(tmp_path / "out")
    assert stats["input_errors"] == 1 and stats["documents_in"] + stats["documents_unread"] == len(independent_pmids(UPDATE_1335))
    assert "DeleteCitation" in errors["error"][0].as_py() and "record scan" in errors["error"][0].as_py()


def revised(data: bytes) -> bytes:
    """The same records with their titles changed, as a corrected file of the same name would be."""
    xml = gzip.decompress(data).replace(b"<ArticleTitle>", b"<ArticleTitle>REVISED ")
    return gzip.compress(xml.replace(b"<VernacularTitle>", b"<VernacularTitle>REVISED "), mtime=0)


def test_a_file_replaced_by_a_fetch_between_scan_and_parse_is_an_input_error_and_the_run_goes_on(tmp_path):
    """A fetch renames a corrected file over one the scan has read: the parse does not read the
    new file under the scan's decisions and hash; the file is an error-ledger entry, its scanned
    records unread, the other file parsed."""
    raw = tmp_path / "raw"
    raw.mkdir()
    path, other = raw / BASELINE_1334.name, raw / "pubmed26n0001.xml"
    path.write_bytes(BASELINE_1334.read_bytes())
    write_records(other, ["1", "2"])
    with Executor(scheduler="sync") as executor:
        payloads = pubmed_parse.scan([raw], executor)
        (raw / "new.tmp").write_bytes(revised(BASELINE_1334.read_bytes()))
        os.replace(raw / "new.tmp", path)  # as storage.open_write commits a fetched file
        pubmed_parse.parse(payloads, tmp_path / "out", executor, shard_bytes=1 << 20)
    stats = json.loads((tmp_path / "out" / "stats.json").read_text())
    docs, ledger, errors = tables(tmp_path / "out")
    scanned = len(independent_pmids(BASELINE_1334))
    assert errors["input"].to_pylist() == [str(path)]
    assert f"{path}: changed while the stage read it" in errors["error"][0].as_py()
    assert (stats["inputs"], stats["input_errors"], stats["documents_unread"]) == (2, 1, scanned)
    assert sorted(docs["pmid"].to_pylist() + ledger["pmid"].to_pylist()) == ["1", "2"]
    # run again: the file the fetch left is scanned and parsed, with its own hash
    stats = run_parse([raw], tmp_path / "again")
    docs, ledger, _ = tables(tmp_path / "again")
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    titled = [d for d in docs.to_pylist() + ledger.to_pylist() if d["pmid"] not in ("1", "2") and d["title"]]
    assert titled and all(d["title"].startswith("REVISED") for d in titled)
    assert {json.loads(d["provenance"])["sha256"] for d in titled} == {digest} and stats["input_errors"] == 0


def test_a_fetch_renaming_files_while_the_stage_runs_never_gives_a_record_another_versions_hash(tmp_path):
    """The parse hashed the file by its path, then opened it again: a rename in between gave the
    records of one version the hash of the other."""
    from renaming_writer import RenamingWriter, item_digest, slow_to_hash

    original = BASELINE_1334.read_bytes()
    (tmp_path / "raw").mkdir()
    writer = RenamingWriter(tmp_path / "raw" / BASELINE_1334.name, [slow_to_hash(original), slow_to_hash(revised(original))])
    rows = []
    with writer:
        for n in range(12):
            run_parse([writer.path], tmp_path / f"out{n}")
            docs, ledger, _ = tables(tmp_path / f"out{n}")
            rows += [d for d in docs.to_pylist() + ledger.to_pylist() if d["title"]]
    mixed = [d["id"] for d in rows if writer.digests.index(item_digest(d)) != int(d["title"].startswith("REVISED"))]
    assert mixed == []
