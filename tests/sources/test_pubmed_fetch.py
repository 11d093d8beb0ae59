"""`fetch_bulk` against a local server replaying NCBI's pubmed/ tree, 30% of whose answers fail."""
from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from sources.errors import FetchError
from sources.http import HttpClient
from sources.pubmed.fetch import MANIFEST, fetch_bulk, index_links, parse_md5, sort_key

try:
    from tests.sources.ncbi_server import CORPUS_BASELINE, FAULTS, PUBMED_XML, LocalServer, Reply, md5_line, pubmed_tree
except ImportError:  # tests/ is not a package: pytest put this folder on sys.path
    from ncbi_server import CORPUS_BASELINE, FAULTS, PUBMED_XML, LocalServer, Reply, md5_line, pubmed_tree

# store path -> the real file NCBI would serve there: the fixture baseline and updates (with their
# real .md5) and, for volume, the cut-down 2021 baseline files of ../shared/corpora (md5 published
# by the server, as NCBI does for every file).
SOURCES = {
    **{f"baseline/{path.name}": path for path in sorted(CORPUS_BASELINE.glob("*.xml.gz"))},
    "baseline/pubmed26n1334.xml.gz": PUBMED_XML / "baseline" / "pubmed26n1334.xml.gz",
    "updatefiles/pubmed20n1203_sample.xml.gz": PUBMED_XML / "updatefiles" / "pubmed20n1203_sample.xml.gz",
    "updatefiles/pubmed26n1335.xml.gz": PUBMED_XML / "updatefiles" / "pubmed26n1335.xml.gz",
}
GOOD = list(SOURCES)  # in the order fetch must apply them
NO_MD5 = "updatefiles/pubmed20n1203_sample.xml.gz"  # the fixture tree publishes none for it
WRONG = "updatefiles/pubmed26n1336.xml.gz"


def published(with_wrong_md5: bool = True) -> dict[str, bytes]:
    """NCBI's tree, plus (optionally) a file whose published md5 does not match its bytes."""
    files = pubmed_tree()
    for path in GOOD[:-3]:
        data = SOURCES[path].read_bytes()
        files[f"/pubmed/{path}"] = data
        files[f"/pubmed/{path}.md5"] = md5_line(SOURCES[path].name, data)
    if with_wrong_md5:
        data = SOURCES[NO_MD5].read_bytes()
        files[f"/pubmed/{WRONG}"] = data
        files[f"/pubmed/{WRONG}.md5"] = md5_line("pubmed26n1336.xml.gz", data + b"tampered")
    return files


def client() -> HttpClient:
    return HttpClient(retries=8, backoff=0.001, backoff_max=0.005, retry_after_max=0.01, seed=0)


def file_requests(server: LocalServer) -> list[str]:
    return [entry.request.path for entry in server.seen("/pubmed/") if not entry.request.path.endswith("/")]


def manifest(out: Path) -> list[dict]:
    return [json.loads(line) for line in (out / MANIFEST).read_text().splitlines()]


def test_fetch_survives_a_flaky_server_and_keeps_bad_files_out(tmp_path):
    out = tmp_path / "raw"
    with LocalServer(published(), fault_rate=0.3, seed=7, retry_after="1") as server:
        report = fetch_bulk(server.url("/pubmed"), out, client=client())
        faults = [entry.fault for entry in server.seen()]

    # the server really misbehaved, in every way, about 30% of the time
    assert set(FAULTS) <= set(faults)
    assert 0.2 <= sum(fault is not None for fault in faults) / len(faults) <= 0.45

    assert report.fetched == GOOD and report.skipped == []
    assert report.failed == [{"path": WRONG, "kind": "checksum", "reason": "checksum never matched after 3 downloads"}]
    files = published()
    for path in GOOD:  # byte-identical to what NCBI published, md5 file included
        assert (out / path).read_bytes() == SOURCES[path].read_bytes()
        assert (out / (path + ".md5")).exists() == (path != NO_MD5)
        if path != NO_MD5:
            assert (out / (path + ".md5")).read_bytes() == files[f"/pubmed/{path}.md5"]
    # nothing of the bad file where parse (or anything else) would read it
    assert not list(out.rglob("*1336*"))

    entries = manifest(out)
    assert [entry["url"] for entry in entries] == sorted(entry["url"] for entry in entries)
    by_path = {entry["url"].split("/pubmed/")[1]: entry for entry in entries}
    assert set(by_path) == set(GOOD) | {WRONG}
    for path in GOOD:
        data = SOURCES[path].read_bytes()
        entry = by_path[path]
        assert (entry["path"], entry["sha256"], entry["size"]) == (path, hashlib.sha256(data).hexdigest(), len(data))
        assert entry["status"] in (200, 206) and entry["etag"] and entry["last_modified"] and entry["fetched_at"]
        assert entry["md5_ok"] is (None if path == NO_MD5 else True)
    assert by_path[WRONG]["path"] is None and by_path[WRONG]["md5_ok"] is False

    # a second run downloads only the file that never verified, and again keeps it out
    before = {path: by_path[path] for path in GOOD}
    with LocalServer(published(), fault_rate=0.3, seed=8) as server:
        again = fetch_bulk(server.url("/pubmed"), out, client=client())
        assert {path.split("/pubmed/")[1].removesuffix(".md5") for path in file_requests(server)} == {WRONG}
    assert again.skipped == GOOD and [f["path"] for f in again.failed] == [WRONG]
    assert {path: entry for path, entry in ((e["url"].split("/pubmed/")[1], e) for e in manifest(out)) if path in GOOD} == before
    assert not list(out.rglob("*1336*"))


def test_rerun_makes_no_downloads_and_keeps_manifest_bytes(tmp_path):
    out = tmp_path / "raw"
    with LocalServer(published(with_wrong_md5=False)) as server:
        first = fetch_bulk(server.url("/pubmed"), out, client=client())
        manifest_bytes = (out / MANIFEST).read_bytes()
        served = len(server.log)
        second = fetch_bulk(server.url("/pubmed"), out, client=client())
        assert [entry.request.path for entry in server.log[served:]] == ["/pubmed/baseline/", "/pubmed/updatefiles/"]
    assert first.fetched == GOOD and second.skipped == GOOD and second.fetched == []
    assert (out / MANIFEST).read_bytes() == manifest_bytes


def test_partial_download_is_resumed_with_range(tmp_path):
    out = tmp_path / "raw"
    data = SOURCES[GOOD[0]].read_bytes()
    part = out / (GOOD[0] + ".part")
    part.parent.mkdir(parents=True)
    part.write_bytes(data[:30000])
    with LocalServer(published()) as server:
        report = fetch_bulk(server.url("/pubmed"), out, limit=1, client=client())
        downloads = server.seen(f"/pubmed/{GOOD[0]}")
    assert report.fetched == [GOOD[0]]
    assert [entry.request.headers.get("Range") for entry in downloads if entry.request.path.endswith(".gz")] == [
        "bytes=30000-"
    ]
    assert (out / GOOD[0]).read_bytes() == data and manifest(out)[0]["status"] == 206
    assert not part.exists()


def test_limit_takes_the_first_files_in_order(tmp_path):
    with LocalServer(published()) as server:
        one = fetch_bulk(server.url("/pubmed"), tmp_path / "one", limit=1, client=client())
        assert server.seen("/pubmed/updatefiles/") == []  # no need to list updates for one file
        two = fetch_bulk(server.url("/pubmed"), tmp_path / "two", limit=2, client=client())
    assert one.fetched == GOOD[:1] and two.fetched == GOOD[:2]
    # across folders: the last baseline file, then the update with the lowest number
    with LocalServer(published()) as server:
        report = fetch_bulk(server.url("/pubmed"), tmp_path / "three", limit=len(GOOD) - 1, client=client())
    assert report.fetched[-2:] == ["baseline/pubmed26n1334.xml.gz", NO_MD5]


def test_a_damaged_store_file_is_fetched_again(tmp_path):
    out = tmp_path / "raw"
    with LocalServer(published(with_wrong_md5=False)) as server:
        fetch_bulk(server.url("/pubmed"), out, limit=1, client=client())
        (out / GOOD[0]).write_bytes(b"damaged")
        report = fetch_bulk(server.url("/pubmed"), out, limit=1, client=client())
    assert report.fetched == GOOD[:1] and (out / GOOD[0]).read_bytes() == SOURCES[GOOD[0]].read_bytes()


def test_a_store_file_without_manifest_is_verified_locally(tmp_path):
    out = tmp_path / "raw"
    with LocalServer(published(with_wrong_md5=False)) as server:
        fetch_bulk(server.url("/pubmed"), out, limit=1, client=client())
        (out / MANIFEST).unlink()
        served = len(server.log)
        report = fetch_bulk(server.url("/pubmed"), out, limit=1, client=client())
        assert [e.request.path for e in server.log[served:]] == ["/pubmed/baseline/", f"/pubmed/{GOOD[0]}.md5"]
    assert report.fetched == GOOD[:1] and manifest(out)[0]["md5_ok"] is True


def test_unreachable_index_raises_fetch_error(tmp_path):
    with LocalServer(routes={"/pubmed/baseline/": lambda request: Reply(503)}) as server:
        with pytest.raises(FetchError, match="HTTP 503"):
            fetch_bulk(server.url("/pubmed"), tmp_path, client=HttpClient(retries=1, backoff=0.001))


def test_index_links_stay_inside_the_folder():
    page = b"""<html><body><pre>
      <a href="?C=N;O=D">Name</a> <a href="../">Parent Directory</a>
      <a href="pubmed26n0001.xml.gz">ok</a> <a href="pubmed26n0001.xml.gz.md5">ok</a>
      <a href="/pubmed/baseline/pubmed26n0002.xml.gz">absolute path, same folder</a>
      <a href="../evil.xml.gz">up</a> <a href="sub/deeper.xml.gz">down</a>
      <a href="http://elsewhere.example/pubmed/baseline/x.xml.gz">other host</a>
      <a href="pubmed26n0003.xml.gz?x=1">query</a> <a href="javascript:alert(1)">js</a>
      <!-- <a href="commented.xml.gz">no</a> -->
    </pre></body></html>"""
    names = index_links(page, "https://ftp.ncbi.nlm.nih.gov/pubmed/baseline/")
    assert names == {"pubmed26n0001.xml.gz", "pubmed26n0001.xml.gz.md5", "pubmed26n0002.xml.gz"}


def test_md5_files_and_ordering():
    assert parse_md5("MD5(pubmed26n1334.xml.gz)= 3CF53BA34FF73126E42D1D8391330E73\n", "pubmed26n1334.xml.gz") == (
        "3cf53ba34ff73126e42d1d8391330e73"
    )
    assert parse_md5("3cf53ba34ff73126e42d1d8391330e73  a.xml.gz\n", "a.xml.gz") == "3cf53ba34ff73126e42d1d8391330e73"
    with pytest.raises(Exception, match="no md5"):
        parse_md5("MD5(other.xml.gz)= 3cf53ba34ff73126e42d1d8391330e73", "pubmed26n1334.xml.gz")
    names = ["pubmed26n1335.xml.gz", "pubmed26n0999.xml.gz", "pubmed20n1203_sample.xml.gz", "zzz.xml.gz",
             "pubmedsample18n0001.xml.gz"]
    assert sorted(names, key=sort_key) == [
        "pubmedsample18n0001.xml.gz", "pubmed20n1203_sample.xml.gz", "pubmed26n0999.xml.gz", "pubmed26n1335.xml.gz",
        "zzz.xml.gz",
    ]


# --- the command ----------------------------------------------------------------------------------------
def test_fetch_command_takes_defaults_from_params_and_fails_in_one_line(tmp_path):
    from typer.testing import CliRunner

    from pipelines.cli import app  # the app with every command group registered
    from pipelines.commands.pubmed import pubmed_fetch

    files = published(with_wrong_md5=False)
    with LocalServer(files) as server:
        params = tmp_path / "params.yaml"
        params.write_text(f"pubmed:\n  base_url: {server.url('/pubmed')}\n  limit: 2\nhttp:\n  retries: 1\n  timeout: 5\n")
        report = pubmed_fetch(out=tmp_path / "raw", base_url=None, limit=None, params_file=params)
        assert report.fetched == GOOD[:2]
        assert pubmed_fetch(out=tmp_path / "raw", base_url=None, limit=1, params_file=params).skipped == GOOD[:1]  # --limit wins

        # a file that stays unreachable: exit status 1 and one line naming it
        server.routes[f"/pubmed/{GOOD[0]}"] = lambda request: Reply(503)
        result = CliRunner().invoke(
            app, ["pubmed", "fetch", "--base-url", server.url("/pubmed"), "--out", str(tmp_path / "other"),
                  "--limit", "1", "--params", str(params)],
        )
    assert result.exit_code == 1
    assert result.stderr.strip().splitlines()[-1] == (
        f"medcurate: error: 1 file(s) unreachable after retries: {GOOD[0]} (a re-run resumes)"
    )
    refused = CliRunner().invoke(app, ["pubmed", "fetch", "--limit", "-1", "--out", str(tmp_path / "raw"), "--params", str(params)])
    assert refused.exit_code == 1 and refused.stderr.strip().splitlines() == ["medcurate: error: --limit must be 0 or more, not -1"]
