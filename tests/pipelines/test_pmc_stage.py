"""`medcurate pmc` as stages: every article accounted for, hostile inputs ledgered, same bytes on re-run."""
import gzip
import io
import json
import sys
import tarfile
from pathlib import Path

from typer.testing import CliRunner

from conftest import CORPORA, FIXTURES, SHARED
from hostile_tar import gnu_sparse_member
from peak_rss import run_measured
from curation.schema import DOCUMENT_SCHEMA, ERROR_SCHEMA, LEDGER_SCHEMA
from curation.shards import list_shards, read_table
from pipelines.cli_common import app
from pipelines.commands import pmc  # noqa: F401  (registers the command group)
from pipelines.demo_server import pmc_tree, serve_in_thread
from pipelines.executor import Executor
from pipelines.stages import pmc_parse
from sources.pmc.jats import JatsOptions

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "sources"))
from ncbi_server import LocalServer, Reply  # noqa: E402

INPUTS = [FIXTURES / "pmc_jats", CORPORA / "fulltext", FIXTURES / "eutils" / "efetch_pmc_8435807_correction.xml"]
NXML = (FIXTURES / "pmc_jats" / "PMC2329613_bmc-oral-health_1472-6831-8-11.nxml").read_bytes()


def package(members: dict) -> bytes:
    buffer = io.BytesIO()
    with gzip.GzipFile(fileobj=buffer, mode="wb", mtime=0) as gz, tarfile.open(fileobj=gz, mode="w") as tar:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def run(inputs, out: Path, **kwargs) -> dict:
    with Executor(scheduler="sync") as executor:
        pmc_parse.run(inputs, out, executor, shard_bytes=1 << 20, files_per_task=40, **kwargs)
    return json.loads((out / "stats.json").read_text())


def tables(out: Path):
    return (read_table(list_shards(out), DOCUMENT_SCHEMA), read_table(list_shards(out / "ledger"), LEDGER_SCHEMA),
            read_table(list_shards(out / "errors"), ERROR_SCHEMA))


def shard_bytes_of(out: Path) -> dict:
    return {p.relative_to(out).as_posix(): p.read_bytes() for p in sorted(out.rglob("*.parquet"))}


def test_every_article_is_accounted_for_and_hostile_inputs_are_ledgered(tmp_path):
    extra = tmp_path / "extra"
    extra.mkdir()
    (extra / "PMC2329613.tar.gz").write_bytes(package({"PMC2329613/a.nxml": NXML, "PMC2329613/f1.jpg": b"x" * 10}))
    (extra / "evil.tar.gz").write_bytes(package({"../../evil.nxml": NXML}))
    (extra / "xxe.nxml").write_bytes(b'<!DOCTYPE article [<!ENTITY x SYSTEM "file:///etc/passwd">]><article>&x;</article>')
    (extra / "truncated.nxml").write_bytes(NXML[:5000])
    stats = run(INPUTS + [extra], tmp_path / "out")
    files = pmc_parse.plan(INPUTS + [extra], 10_000)[0]
    assert stats["inputs"] == len(files) == 11 + 135 + 1 + 4
    assert stats["input_errors"] == 3 and stats["inputs_parsed"] == len(files) - 3
    docs, ledger, errors = tables(tmp_path / "out")
    assert stats["documents_in"] == docs.num_rows + ledger.num_rows == len(files) - 3
    assert sorted(Path(e).name for e in errors["input"].to_pylist()) == ["evil.tar.gz", "truncated.nxml", "xxe.nxml"]
    assert sorted(r.split(":")[0] for r in ledger["reason"].to_pylist()) == ["no_text"] + ["not_article"] * 6
    packaged = [(i, json.loads(p)["member"]) for p, i in zip(docs["provenance"].to_pylist(), docs["id"].to_pylist())
                if "member" in json.loads(p)]
    assert packaged == [("pmc:PMC2329613", "PMC2329613/a.nxml")]


def test_licence_selection_in_parse_and_identical_rerun(tmp_path):
    inputs = [FIXTURES / "pmc_jats"]
    stats = run(inputs, tmp_path / "a", license_families=["CC BY", "CC0"])
    docs, ledger, _ = tables(tmp_path / "a")
    assert set(docs["license"].to_pylist()) <= {"CC-BY", "CC-BY-2.0", "CC-BY-4.0", "CC0-1.0"}
    not_selected = sorted(r for r in ledger["reason"].to_pylist() if r.startswith("license_not_selected"))
    assert not_selected == ["license_not_selected:CC-BY-NC-3.0", "license_not_selected:CC-BY-NC-ND-4.0",
                            "license_not_selected:public-domain"]
    assert stats["documents_out"] == docs.num_rows
    first = shard_bytes_of(tmp_path / "a")
    run(inputs, tmp_path / "b", license_families=["CC BY", "CC0"])
    assert shard_bytes_of(tmp_path / "b") == first
    # A change of rendering restarts the folder instead of mixing two renderings.
    run(inputs, tmp_path / "a", license_families=["CC BY", "CC0"], options=JatsOptions(citations="meditron"))
    docs, _, _ = tables(tmp_path / "a")
    assert all("[bib_ref]" in t for t in docs["text"].to_pylist())


def test_cli_list_fetch_parse_against_the_demo_bucket(tmp_path):
    server, base = serve_in_thread(pmc_tree(SHARED))
    bucket = f"{base}/pmc-oa-opendata"
    runner = CliRunner()
    try:
        listing = tmp_path / "listing.jsonl"
        result = runner.invoke(app, ["pmc", "list", "--base-url", bucket, "--out", str(listing), "--enumerate", "list"])
        assert result.exit_code == 0, result.output
        listed = [json.loads(line) for line in listing.read_text().splitlines()]
        assert [r["pmcid"] for r in listed] == ["PMC1790863", "PMC2329613", "PMC3166277", "PMC3388108", "PMC3460867",
                                                "PMC3585041", "PMC6500000", "PMC10200000", "PMC10777901"]  # CC BY
        raw = tmp_path / "raw"
        result = runner.invoke(app, ["pmc", "fetch", "--base-url", bucket, "--listing", str(listing), "--out", str(raw)])
        assert result.exit_code == 0, result.output
        assert sorted(p.name for p in (raw / "articles").rglob("*.xml")) == sorted(f"{r['pmcid']}.1.xml" for r in listed)
        # A sync with a deny-list takes two articles back out; parse ledgers them.
        deny = tmp_path / "deny.txt"
        deny.write_text("# expired COVID-19 licences\nPMC1790863\npmc2329613\n")
        result = runner.invoke(app, ["pmc", "fetch", "--base-url", bucket, "--deny-list", str(deny), "--out", str(raw)])
        assert result.exit_code == 0 and "2 removed" in result.output, result.output
        result = runner.invoke(app, ["pmc", "parse", str(raw / "articles"), "--out",
                                     str(tmp_path / "parsed"), "--scheduler", "sync", "--tables", "linearize", "--citations", "meditron"])
        assert result.exit_code == 0, result.output
        docs, ledger, _ = tables(tmp_path / "parsed")
        assert sorted(docs["id"].to_pylist()) == sorted(f"pmc:{r['pmcid']}" for r in listed[2:] if r["pmcid"] != "PMC3388108")
        assert all("[bib_ref]" in t for t in docs["text"].to_pylist())
        assert sorted(zip(ledger["id"].to_pylist(), ledger["reason"].to_pylist())) == [
            ("pmc:PMC1790863.1", "removed:deny_list"), ("pmc:PMC2329613.1", "removed:deny_list"),
            ("pmc:PMC3388108", "not_article:retraction")]  # PLOS's retraction notice, itself not retracted
        bad = runner.invoke(app, ["pmc", "parse", str(raw), "--out", str(tmp_path / "x"), "--captions", "boxed"])
        assert bad.exit_code == 1 and "captions" in bad.output
        (tmp_path / "params.yaml").write_text("http: {retries: 0, timeout: 2}\n")
        legacy = tmp_path / "legacy.jsonl"  # an OA file-list record of the retired route
        legacy.write_text('{"pmcid": "PMC1", "license": "CC BY", "links": {"tgz": "oa_package/x.tar.gz"}}\n')
        refused = runner.invoke(app, ["pmc", "fetch", "--listing", str(legacy), "--out", str(tmp_path / "r")])
        assert refused.exit_code == 1 and f"{legacy}:1: not a `pmc list` line" in refused.output
        unreachable = runner.invoke(app, ["pmc", "fetch", "--base-url", "http://127.0.0.1:9/none", "--out", str(tmp_path / "r"),
                                          "--params", str(tmp_path / "params.yaml")])
        assert unreachable.exit_code == 1 and "medcurate: error:" in unreachable.output
    finally:
        server.shutdown()


def test_pmc_fetch_via_efetch_never_prints_or_stores_a_key_echoed_inside_invalid_xml(tmp_path, monkeypatch):
    key = "echoedKey0123456789abcdef"
    monkeypatch.setenv("NCBI_API_KEY", key)
    # A server echoing the key where a parser error or the answer's description quotes it: as an
    # element name (libxml2's "tag mismatch"), an undefined entity's name, or a valid answer's root.
    answers = {"1": f"<eFetchResult><{key}>x</eFetchResult>", "2": f"<eFetchResult>&{key};</eFetchResult>",
               "3": f"<{key}/>"}

    def efetch(request):
        return Reply(200, {"Content-Type": "text/xml"}, answers[request.query["id"]].encode())

    params, outputs = tmp_path / "params.yaml", []
    with LocalServer(routes={"/eutils/efetch.fcgi": efetch}) as server:
        params.write_text(f"http: {{retries: 0}}\npubmed: {{eutils_url: {server.url('/eutils')}}}\n")
        for number in answers:  # one batch (one run) per answer
            pmcids = tmp_path / f"pmcids{number}.txt"
            pmcids.write_text(f"PMC{number}\n")
            result = CliRunner().invoke(app, ["pmc", "fetch", "--via", "efetch", "--pmcids", str(pmcids),
                                              "--out", str(tmp_path / "raw"), "--params", str(params)])
            assert result.exit_code == 1 and "0 fetched, 0 skipped, 1 failed" in result.output, result.output
            outputs.append(result.output)
        assert all(seen.request.query["api_key"] == key for seen in server.seen("/eutils"))  # it was sent
    assert all("REDACTED" in output for output in outputs) and not any(key in output for output in outputs)
    manifest = (tmp_path / "raw" / "manifest.jsonl").read_text()
    assert manifest.count("REDACTED") == 3 and key not in manifest


def test_an_oai_pmh_error_answer_is_an_error_ledger_entry_and_the_stage_goes_on(tmp_path):
    error = tmp_path / "PMC0000001.xml"
    error.write_bytes(b'<?xml version="1.0" encoding="UTF-8"?>\n<OAI-PMH xmlns="http://www.openarchives.org/OAI/2.0/">'
                      b'<responseDate>2025-06-24T10:00:00Z</responseDate><request verb="GetRecord">'
                      b'https://pmc.ncbi.nlm.nih.gov/api/oai/v1/mh/</request>'
                      b'<error code="idDoesNotExist">The value of the identifier argument is\n unknown or illegal.</error>'
                      b'</OAI-PMH>')
    good = FIXTURES / "pmc_jats" / "PMC6500000_oai-pmh-getrecord.xml"
    stats = run([good, error], tmp_path / "out")
    docs, ledger, errors = tables(tmp_path / "out")
    assert docs["id"].to_pylist() == ["pmc:PMC6500000"] and ledger.num_rows == 0
    assert (stats["inputs"], stats["inputs_parsed"], stats["input_errors"]) == (2, 1, 1)
    (message,) = errors["error"].to_pylist()
    assert errors["input"].to_pylist() == [str(error)]
    assert "idDoesNotExist" in message and "InputError" in message and "\n" not in message


def test_tombstones_are_ledgered_and_a_damaged_tombstone_file_is_an_error_entry(tmp_path):
    good, bad = tmp_path / "good" / "removed.jsonl", tmp_path / "bad" / "removed.jsonl"
    good.parent.mkdir()
    bad.parent.mkdir()
    # PMC6500000's version 1 was superseded: its ledger entry must not share the live document's id.
    good.write_text('{"pmcid": "PMC6500000", "version": 1, "reason": "superseded_by:PMC6500000.2", "removed_at": "2026-12-01T00:00:00Z"}\n')
    bad.write_text('{"pmcid": "PMC7", "version": 2, "reason": "deny_list"}\n{"pmcid": "7", "version": "x"}\n')
    stats = run([good, bad, FIXTURES / "pmc_jats" / "PMC6500000_oai-pmh-getrecord.xml"], tmp_path / "out")
    docs, ledger, errors = tables(tmp_path / "out")
    assert list(zip(ledger["id"].to_pylist(), ledger["reason"].to_pylist())) == [
        ("pmc:PMC6500000.1", "removed:superseded_by:PMC6500000.2")]
    assert docs["id"].to_pylist() == ["pmc:PMC6500000"] and json.loads(ledger["meta"][0].as_py())["version"] == 1
    assert errors["input"].to_pylist() == [str(bad)] and f"{bad}:2: not a tombstone" in errors["error"][0].as_py()
    assert (stats["inputs"], stats["input_errors"], stats["documents_in"]) == (3, 1, docs.num_rows + ledger.num_rows)


TOMBSTONES_RUN = """
from pathlib import Path
from pipelines.executor import Executor
from pipelines.stages import pmc_parse
with Executor(scheduler="sync") as executor:
    pmc_parse.run([Path({path!r})], Path({out!r}), executor, 1 << 26)
print(Path({out!r}, "stats.json").read_text())
"""


def test_a_store_that_removed_200000_versions_is_ledgered_line_by_line(tmp_path):
    """removed.jsonl grows with every sync: read whole, 49 MB of tombstones took 734 MB (and a
    file past 256 MiB was refused); line by line, under 400 MB, the ledger writer's shard included."""
    path = tmp_path / "store" / "articles" / "removed.jsonl"
    path.parent.mkdir(parents=True)
    with open(path, "w") as handle:
        for n in range(200_000):
            handle.write(json.dumps({"key": f"oa_comm/xml/all/PMC{1000000 + n}.1.xml", "license": "CC BY",
                                     "pmcid": f"PMC{1000000 + n}", "reason": "gone_from_bucket",
                                     "removed_at": "2026-12-01T00:00:00Z", "sha256": "ab" * 32, "version": 1},
                                    sort_keys=True) + "\n")
    stdout, peak_mb = run_measured(TOMBSTONES_RUN.format(path=str(path), out=str(tmp_path / "out")))
    stats = json.loads(stdout)
    assert (stats["documents_in"], stats["ledgered"], stats["input_errors"]) == (200_000, 200_000, 0)
    assert peak_mb < 400, f"200,000 tombstones peaked at {peak_mb:.0f} MB"


def test_a_tombstone_file_with_an_endless_line_is_refused_whole(tmp_path):
    path = tmp_path / "removed.jsonl"
    path.write_bytes(b'{"pmcid": "PMC7", "version": 2, "reason": "deny_list"}\n' + b" " * (1 << 20) + b"{}\n")
    stats = run([path], tmp_path / "out")
    _docs, ledger, errors = tables(tmp_path / "out")
    assert ledger.num_rows == 0 and stats["input_errors"] == 1
    assert f"{path}:2: line longer than 65536 bytes" in errors["error"][0].as_py()


def test_the_parse_stage_reads_tombstones_without_importing_the_cloud_sync_or_an_http_client():
    """Every `pmc parse` pays its imports: the tombstone format is read without the sync and its
    HTTP client (requests, urllib3: ~0.1 CPU-s of start-up)."""
    import subprocess

    code = ("import sys, pipelines.stages.pmc_parse; "
            "print(sorted(m for m in ('requests', 'urllib3', 'sources.http', 'sources.pmc.cloud.sync') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_a_package_cut_inside_a_gnu_sparse_header_is_an_error_ledger_entry(tmp_path):
    """The package's article comes first, then a GNU sparse member whose extension block the
    archive cuts short: plain tarfile raised IndexError and the whole stage failed."""
    tar = io.BytesIO()
    writer = tarfile.TarFile(fileobj=tar, mode="w", format=tarfile.GNU_FORMAT)
    info = tarfile.TarInfo("PMC2329613/a.nxml")
    info.size = len(NXML)
    writer.addfile(info, io.BytesIO(NXML))  # not closed: the archive ends inside the sparse header
    cut = tmp_path / "PMC2329613.tar.gz"
    cut.write_bytes(gzip.compress(tar.getvalue() + gnu_sparse_member(1, cut=100), mtime=0))
    good = FIXTURES / "pmc_jats" / "PMC6500000_oai-pmh-getrecord.xml"
    stats = run([good, cut], tmp_path / "out")
    docs, ledger, errors = tables(tmp_path / "out")
    assert docs["id"].to_pylist() == ["pmc:PMC6500000"]
    assert errors["input"].to_pylist() == [str(cut)]
    assert errors["error"].to_pylist() == [f"InputError: {cut}: truncated or damaged GNU sparse header (IndexError: index out of range)"]
    assert (stats["inputs"], stats["inputs_parsed"], stats["input_errors"]) == (2, 1, 1)


def tombstone_lines(first: int, reason: str) -> bytes:
    return b"".join(json.dumps({"pmcid": f"PMC{n}", "version": 1, "reason": reason}, sort_keys=True).encode() + b"\n"
                    for n in range(first, first + 3))


def test_tombstones_ledgered_are_those_hashed_when_a_sync_replaces_the_file_meanwhile(tmp_path):
    """A sync rewrites removed.jsonl by rename while the parse reads it, once after the checking
    pass and once after the first tombstone is ledgered: every ledger row comes from the file the
    parse opened, and carries that file's hash."""
    import hashlib
    import os

    path = tmp_path / "store" / "articles" / "removed.jsonl"
    path.parent.mkdir(parents=True)
    old, newer = tombstone_lines(100, "gone_from_bucket"), tombstone_lines(200, "deny_list")
    path.write_bytes(old)

    def sync_rewrites(data: bytes) -> None:
        (path.parent / "removed.jsonl.tmp").write_bytes(data)
        os.replace(path.parent / "removed.jsonl.tmp", path)  # as storage.open_write commits it

    items = iter(pmc_parse.parse_file(str(path), JatsOptions()))
    sync_rewrites(newer)
    rows = [next(items)]
    sync_rewrites(tombstone_lines(300, "deny_list"))
    rows += list(items)
    assert [item.doc["id"] for item in rows] == ["pmc:PMC100.1", "pmc:PMC101.1", "pmc:PMC102.1"]
    assert {json.loads(item.doc["provenance"])["sha256"] for item in rows} == {hashlib.sha256(old).hexdigest()}
    # and the next parse reads the file the sync left
    assert [item.doc["id"] for item in pmc_parse.parse_file(str(path), JatsOptions())][0] == "pmc:PMC300.1"


def test_a_package_replaced_by_a_fetch_while_parsed_gives_articles_and_hash_of_one_version(tmp_path):
    """The package was hashed by its path, then opened again to be read."""
    from renaming_writer import RenamingWriter, versions_seen

    other = (FIXTURES / "pmc_jats" / "PMC3166277_bmc-microbiol_1471-2180-11-174.nxml").read_bytes()
    writer = RenamingWriter(tmp_path / "PMC2329613.tar.gz", [package({"PMC2329613/a.nxml": NXML}), package({"PMC3166277/a.nxml": other})])
    seen = versions_seen(writer, lambda p: pmc_parse.parse_file(str(p), JatsOptions()), 300,
                         lambda article: 0 if article.doc["id"] == "pmc:PMC2329613" else 1)
    assert {hashed for hashed, content in seen if hashed != content} == set()
    assert {content for _, content in seen} == {0, 1}
