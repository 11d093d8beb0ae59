"""The PMC Cloud client against hostile remotes and bad stores (issue 15).

Every case serves the bad input from 127.0.0.1 (or writes the bad store) and runs the real sync
or command on it: a second sync into a held store, an empty inventory, keys and paths that climb
out of the store, numbers past SQLite's integers, JSON nested 200k deep, a damaged manifest,
listings that never end, a bucket that mostly answers 403, and what a sync records for each.
"""
import gzip
import hashlib
import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

from conftest import REPO, SHARED
from peak_rss import run_measured
from pipelines.cli_common import app
from pipelines.commands import pmc  # noqa: F401  (registers the command group)
from pipelines.demo_bucket import INVENTORY, article_objects, inventory_objects
from sources.errors import FetchError, InputError
from sources.pmc.cloud.limits import Limits
from sources.pmc.cloud.manifest import Manifest
from sources.pmc.cloud.sync import MassRemovalError, RemovalLimit, sync
from sources.pmc.cloud.tombstones import TOMBSTONES
from sources.pmc.cloud.versions import SelectionPolicy

try:
    from tests.sources.ncbi_server import Reply
    from tests.sources.pmc_bucket import BUCKET, client, listing_route, publish, serve
except ImportError:  # tests/ is not a package: pytest put this folder on sys.path
    from ncbi_server import Reply
    from pmc_bucket import BUCKET, client, listing_route, publish, serve

runner = CliRunner()


@pytest.fixture(scope="module")
def articles() -> dict[str, bytes]:
    return article_objects(SHARED)


def stored_xml(raw: Path) -> list[str]:
    return sorted(p.name for p in (raw / "articles").rglob("*.xml"))


# --- one writer per store -------------------------------------------------------------------------------------
def test_a_second_fetch_into_a_held_store_fails_at_once_and_a_killed_holder_does_not_block(tmp_path, articles):
    raw = tmp_path / "raw"
    with serve({**articles, **inventory_objects(articles)}) as server:
        bucket = server.url(BUCKET)
        # The first fetch hangs on a listing that trickles in one byte a second: it holds the store.
        slow = Reply(200, {"Content-Type": "application/xml"}, b"<ListBucketResult/>" * 100, trickle=1.0)
        server.routes[f"{BUCKET}/"] = lambda request: slow
        holder = subprocess.Popen([sys.executable, "-m", "pipelines.cli", "pmc", "fetch", "--base-url", bucket,
                                   "--out", str(raw)], cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            deadline = time.monotonic() + 60
            while not server.seen(f"{BUCKET}/") and time.monotonic() < deadline:
                time.sleep(0.1)
            assert server.seen(f"{BUCKET}/"), "the first fetch never started"
            started = time.monotonic()
            second = runner.invoke(app, ["pmc", "fetch", "--base-url", bucket, "--out", str(raw)])
            assert time.monotonic() - started < 5
            message = second.output.strip()
            assert second.exit_code == 1 and "\n" not in message, second.output
            assert message.startswith("medcurate: error: raw store") and f"in use by pid {holder.pid} " in message
        finally:
            holder.send_signal(signal.SIGKILL)
            holder.wait()
        server.routes[f"{BUCKET}/"] = listing_route(server)
        after = runner.invoke(app, ["pmc", "fetch", "--base-url", bucket, "--out", str(raw)])
    assert after.exit_code == 0, after.output  # the kernel dropped the killed holder's lock
    assert len(stored_xml(raw)) == 9 and (raw / ".lock").read_bytes() == b""  # emptied on release


# --- mass removal -----------------------------------------------------------------------------------------------
def test_an_empty_inventory_removes_nothing_unless_told(tmp_path, articles):
    raw = tmp_path / "raw"
    with serve({**articles, **inventory_objects(articles)}) as server:
        bucket = server.url(BUCKET)
        assert runner.invoke(app, ["pmc", "fetch", "--base-url", bucket, "--out", str(raw)]).exit_code == 0
        before = stored_xml(raw)
        empty_metadata = {k: v for k, v in articles.items() if not k.startswith("metadata/")}
        publish(server, empty_metadata, snapshot="2026-09-02T01-00Z")  # a snapshot that lists nothing
        refused = runner.invoke(app, ["pmc", "fetch", "--base-url", bucket, "--out", str(raw)])
        assert refused.exit_code == 1 and refused.output.count("\n") == 1, refused.output  # one line, no summary
        assert "would remove all 9 stored articles; nothing was removed" in refused.output
        assert stored_xml(raw) == before and (raw / TOMBSTONES).read_text() == ""
        assert len(list((raw / "metadata").rglob("*.json"))) == 14
        # A share over the ceiling is refused too; under it, or when told, the removals go through.
        publish(server, {k: v for k, v in articles.items() if "PMC2329613" not in k and "PMC3166277" not in k},
                snapshot="2026-09-03T01-00Z")
        with pytest.raises(MassRemovalError, match="remove 2 of 9 stored articles, more than 1 .* and 10%"):
            sync(client(), bucket, raw, SelectionPolicy(), removal_limit=RemovalLimit(share=0.1, count=1))
        assert stored_xml(raw) == before
        told = runner.invoke(app, ["pmc", "fetch", "--base-url", bucket, "--out", str(raw), "--allow-mass-removal"])
    assert told.exit_code == 0 and "2 removed" in told.output, told.output
    stones = [json.loads(line) for line in (raw / TOMBSTONES).read_text().splitlines()]
    assert [(s["pmcid"], s["reason"]) for s in stones] == [("PMC2329613", "gone_from_bucket"), ("PMC3166277", "gone_from_bucket")]


# --- keys and paths from data ------------------------------------------------------------------------------------
def test_a_listing_record_cannot_name_a_path_or_key_of_its_own(tmp_path, articles):
    with serve({**articles, **inventory_objects(articles)}) as server:
        bucket = server.url(BUCKET)
        good = tmp_path / "listing.jsonl"
        assert runner.invoke(app, ["pmc", "list", "--base-url", bucket, "--out", str(good)]).exit_code == 0
        record = json.loads(good.read_text().splitlines()[0])
        n = record["pmcid"][3:]
        for field, value in [("version", "1/../../../../x"), ("version", 2**64), ("version", True),
                             ("xml_key", f"PMC{n}.1/../../../x.xml"), ("key", "metadata/../x.json"), ("pmcid", "PMC1/../x"),
                             ("xml_md5", "../x"), ("license_code", ["CC-BY"]), ("open_access", "yes")]:
            bad = tmp_path / "bad.jsonl"
            bad.write_text(json.dumps({**record, field: value}) + "\n")
            result = runner.invoke(app, ["pmc", "fetch", "--base-url", bucket, "--listing", str(bad), "--out", str(tmp_path / "raw")])
            assert result.exit_code == 1 and f"{bad}:1: not a `pmc list` line" in result.output, (field, result.output)
            assert result.output.count("\n") == 1
        assert not [p for p in tmp_path.rglob("*") if p.name == "x" or p.name.startswith("x.")]
        assert all(s.request.path.startswith(BUCKET + "/") for s in server.seen())


def test_a_tampered_manifest_cannot_delete_outside_the_store(tmp_path, articles):
    raw, outside = tmp_path / "raw", tmp_path / "precious.txt"
    outside.write_text("keep me")
    with serve({**articles, **inventory_objects(articles)}) as server:
        bucket = server.url(BUCKET)
        sync(client(), bucket, raw, SelectionPolicy())
        with Manifest(raw / "manifest.sqlite") as manifest:
            manifest.db.execute("UPDATE objects SET path = '../precious.txt' WHERE key = 'PMC3585041.1/PMC3585041.1.xml'")
        publish(server, {k: v for k, v in articles.items() if "PMC3585041" not in k})
        result = runner.invoke(app, ["pmc", "fetch", "--base-url", bucket, "--out", str(raw)])
    assert result.exit_code == 1 and "store path '../precious.txt' refused" in result.output and result.output.count("\n") == 1
    assert outside.read_text() == "keep me"


def test_an_inventory_shard_key_cannot_leave_the_bucket(tmp_path, articles):
    objects = {**articles, **inventory_objects(articles)}
    manifest_key = f"{INVENTORY}2026-09-01T01-00Z/manifest.json"
    manifest = json.loads(objects[manifest_key])
    manifest["files"][0]["key"] = "../../../elsewhere/data/" + manifest["files"][0]["key"].rsplit("/", 1)[1]
    objects[manifest_key] = json.dumps(manifest).encode()
    with serve(objects) as server:
        with pytest.raises(FetchError, match=r"no usable inventory snapshot: .*shard key '\.\./\.\./\.\./elsewhere/.*refused"):
            sync(client(), server.url(BUCKET), tmp_path / "raw", SelectionPolicy())
        assert all(s.request.path.startswith(BUCKET + "/") for s in server.seen())
    assert not (tmp_path / "raw" / "articles").exists()


# --- numbers past SQLite's integers, JSON nested 200k deep --------------------------------------------------------
def test_numbers_past_2_63_are_one_line_failures_and_the_sync_goes_on(tmp_path, articles):
    huge = f"metadata/PMC{2**64}.1.json"
    version = f"metadata/PMC6500000.{2**63}.json"
    objects = {**articles, huge: b"{}", version: b"{}"}
    raw = tmp_path / "raw"
    for route in ("inventory", "list"):
        with serve({**objects, **inventory_objects(objects)}) as server:
            report = sync(client(), server.url(BUCKET), raw, SelectionPolicy(), route=route)
        assert sorted(f["id"] for f in report.failed) == sorted([huge, version]), route
        assert all("out of range" in f["reason"] and "\n" not in f["reason"] for f in report.failed)
        assert report.listed == 14 and len(stored_xml(raw)) == 9
    pmcids = tmp_path / "pmcids.txt"
    pmcids.write_text(f"PMC{2**64}\n")
    result = runner.invoke(app, ["pmc", "list", "--base-url", "http://127.0.0.1:9", "--pmcids", str(pmcids), "--out", str(tmp_path / "l")])
    assert result.exit_code == 1 and "not a PMCID" in result.output


def test_an_enumeration_that_fails_part_way_leaves_no_open_transaction(tmp_path):
    def rows():
        yield 1, 1, "a"
        raise InputError("shard.csv.gz: row 2 has 3 cells, the schema 4")

    with Manifest(tmp_path / "manifest.sqlite") as manifest:
        manifest.begin_sync("t", "inventory", None)
        with pytest.raises(InputError, match="row 2"):
            manifest.add_listed(rows())
        assert not manifest.db.in_transaction
        assert manifest.add_listed(iter([(2, 1, "b")])) == 1  # the failed listing left nothing behind


DEEP = b"[" * 200_000 + b"]" * 200_000


def test_json_nested_200k_deep_is_a_one_line_error_everywhere(tmp_path, articles):
    from sources.pmc.cloud.tombstones import iter_tombstones

    deep_meta = b'{"pmcid": "PMC6500000", "version": 1, "x": ' + DEEP + b"}"
    objects = {**articles, "metadata/PMC6500000.1.json": deep_meta}
    with serve({**objects, **inventory_objects(objects)}) as server:
        report = sync(client(), server.url(BUCKET), tmp_path / "raw", SelectionPolicy())
    assert [f["id"] for f in report.failed] == ["metadata/PMC6500000.1.json"]
    assert "nested deeper than 64 levels" in report.failed[0]["reason"] and report.selected == 8
    # An inventory manifest nested that deep: the snapshot is not usable, in one line.
    manifest_key = f"{INVENTORY}2026-09-01T01-00Z/manifest.json"
    with serve({**articles, **inventory_objects(articles), manifest_key: DEEP}) as server:
        with pytest.raises(FetchError, match="nested deeper than 64 levels"):
            sync(client(), server.url(BUCKET), tmp_path / "raw2", SelectionPolicy())
    stones = tmp_path / "removed.jsonl"  # nested 30,000 deep within a tombstone line's 64 KiB
    stones.write_bytes(b'{"pmcid": "PMC7", "version": 2, "reason": "deny_list"}\n' + b"[" * 30_000 + b"]" * 30_000 + b"\n")
    with pytest.raises(InputError, match=r"removed.jsonl:2: not a tombstone .*nested deeper"):
        list(iter_tombstones(stones))
    listing = tmp_path / "listing.jsonl"
    listing.write_bytes(DEEP + b"\n")
    result = runner.invoke(app, ["pmc", "fetch", "--listing", str(listing), "--base-url", "http://127.0.0.1:9", "--out", str(tmp_path / "r")])
    assert result.exit_code == 1 and "nested deeper" in result.output and result.output.count("\n") == 1


# --- a damaged store ------------------------------------------------------------------------------------------------
def test_a_damaged_manifest_is_a_one_line_error(tmp_path, articles):
    raw = tmp_path / "raw"
    with serve({**articles, **inventory_objects(articles)}) as server:
        bucket = server.url(BUCKET)
        assert runner.invoke(app, ["pmc", "fetch", "--base-url", bucket, "--out", str(raw)]).exit_code == 0
        database = raw / "manifest.sqlite"
        whole = database.read_bytes()
        # Pages after the first overwritten: the header opens, the tables do not read.
        database.write_bytes(whole[:4096] + b"\xff" * (len(whole) - 4096))
        damaged = runner.invoke(app, ["pmc", "fetch", "--base-url", bucket, "--out", str(raw)])
        database.write_bytes(b"not a database at all" * 100)
        garbage = runner.invoke(app, ["pmc", "fetch", "--base-url", bucket, "--out", str(raw)])
    for result in (damaged, garbage):
        assert result.exit_code == 1 and result.output.startswith("medcurate: error: ") and result.output.count("\n") == 1, result.output
        assert "manifest.sqlite" in result.output or "SQLite" in result.output
    assert f"{database}: not a usable manifest (file is not a database)" in garbage.output


# --- inventory shards that are not CSV ----------------------------------------------------------------------------------
def peak_rss_mb(code: str) -> tuple[float, str]:
    """(peak resident MB, stdout) of `code` run in a fresh Python in the repository (tests/peak_rss:
    the process's own high-water mark, not the test runner's that ru_maxrss would inherit)."""
    out, peak = run_measured(code, timeout=300)
    return peak, out.strip()


def write_gzip_of_zeros(path: Path, size: int) -> None:
    import zlib

    packer, chunk = zlib.compressobj(1, wbits=31), bytes(1 << 20)
    with open(path, "wb") as out:
        for _ in range(size >> 20):
            out.write(packer.compress(chunk))
        out.write(packer.flush())


def test_an_inventory_shard_of_zeros_or_with_a_huge_field_is_refused_in_little_memory(tmp_path, articles):
    zeros = tmp_path / "zeros.csv.gz"
    write_gzip_of_zeros(zeros, 768 << 20)  # one 768 MiB "line": never read whole
    peak, said = peak_rss_mb(
        "from pathlib import Path\nfrom sources.errors import InputError\nfrom sources.pmc.cloud.inventory import read_shard\n"
        f"try:\n    list(read_shard(Path({str(zeros)!r}), ('', 'key', '', 'etag')))\n"
        "except InputError as exc:\n    print(exc)\n")
    assert said == "zeros.csv.gz: line 1 is longer than 65536 bytes" and peak < 500, (said, peak)
    # A quoted field spanning lines past csv's field limit, and a shard of zeros, served: one line each.
    objects = {**articles, **inventory_objects(articles)}
    for body in (b'"pmc-oa-opendata","' + b"metadata/x\n" * 20_000 + b'","d","e"\n', bytes(1 << 20)):
        shard = gzip.compress(body, mtime=0)
        manifest_key = f"{INVENTORY}2026-09-01T01-00Z/manifest.json"
        manifest = json.loads(objects[manifest_key])
        objects[manifest["files"][0]["key"]] = shard
        manifest["files"][0]["MD5checksum"] = hashlib.md5(shard).hexdigest()
        objects[manifest_key] = json.dumps(manifest).encode()
        with serve(objects) as server, pytest.raises(FetchError) as caught:
            sync(client(), server.url(BUCKET), tmp_path / "raw", SelectionPolicy())
        assert "field larger than field limit" in str(caught.value) or "longer than 65536 bytes" in str(caught.value)
        assert "\n" not in str(caught.value)


# --- S3 behaviour ----------------------------------------------------------------------------------------------------
def test_a_listing_that_keeps_returning_new_tokens_or_empty_pages_is_refused(tmp_path, articles):
    from sources.pmc.cloud.s3 import list_objects

    calls = []

    def endless(request):  # one key and a new token, every time
        calls.append(1)
        return Reply(200, {}, (f"<ListBucketResult><IsTruncated>true</IsTruncated><Contents><Key>metadata/PMC1.{len(calls)}.json"
                               f"</Key></Contents><NextContinuationToken>t{len(calls)}</NextContinuationToken></ListBucketResult>").encode())

    with serve({}) as server:
        server.routes[f"{BUCKET}/"] = endless
        with pytest.raises(InputError, match="goes on past 50 pages"):
            list(list_objects(client(), server.url(BUCKET), "metadata/", max_pages=50))
        assert len(calls) == 50
        server.routes[f"{BUCKET}/"] = lambda request: Reply(200, {}, b"<ListBucketResult><IsTruncated>true</IsTruncated>"
                                                                     b"<NextContinuationToken>t</NextContinuationToken></ListBucketResult>")
        with pytest.raises(InputError, match="page 1 .* is empty but claims more to come"):
            list(list_objects(client(), server.url(BUCKET), "metadata/"))
        server.routes[f"{BUCKET}/"] = endless
        params = tmp_path / "params.yaml"
        params.write_text("http: {retries: 0}\npmc: {max_list_pages: 20}\n")
        result = runner.invoke(app, ["pmc", "list", "--enumerate", "list", "--base-url", server.url(BUCKET),
                                     "--out", str(tmp_path / "l.jsonl"), "--params", str(params)])
    assert result.exit_code == 1 and "goes on past 20 pages (pmc.max_list_pages)" in result.output and result.output.count("\n") == 1


DENIED = (b'<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>AccessDenied</Code><Message>Access Denied</Message>'
          b"<RequestId>656c76696e6727732072657175657374</RequestId></Error>")


def test_a_bucket_answering_403_to_most_requests_fails_the_run_naming_the_s3_code(tmp_path, articles):
    with serve({**articles, **inventory_objects(articles)}) as server:
        for key in sorted(k for k in articles if k.startswith("metadata/"))[2:]:  # 12 of 14 denied
            server.routes[f"{BUCKET}/{key}"] = lambda request: Reply(403, {"Content-Type": "application/xml"}, DENIED)
        out = tmp_path / "listing.jsonl"
        listed = runner.invoke(app, ["pmc", "list", "--base-url", server.url(BUCKET), "--out", str(out)])
        fetched = runner.invoke(app, ["pmc", "fetch", "--enumerate", "list", "--base-url", server.url(BUCKET), "--out", str(tmp_path / "raw")])
    for result in (listed, fetched):
        assert result.exit_code == 1 and result.output.count("\n") == 1, result.output
        assert "12 of 14 metadata fetches failed, more than 10% (pmc.max_failed_share)" in result.output
        assert "HTTP 403 (S3 error AccessDenied: Access Denied)" in result.output
    assert not out.exists()


def test_a_part_left_from_a_replaced_object_is_fetched_afresh_in_the_same_sync(tmp_path, articles):
    raw = tmp_path / "raw"
    name = "PMC3166277.1"
    old = articles[f"{name}/{name}.xml"]
    new = old.replace(b"<article", b"<!-- replaced -->\n<article", 1)
    meta = json.loads(articles[f"metadata/{name}.json"])
    meta["xml_url"] = f"s3://pmc-oa-opendata/{name}/{name}.xml?md5={hashlib.md5(new).hexdigest()}"
    changed = {**articles, f"{name}/{name}.xml": new, f"metadata/{name}.json": json.dumps(meta).encode()}
    part = raw / "articles" / "0316" / f"{name}.xml.part"
    part.parent.mkdir(parents=True)
    part.write_bytes(old[: len(old) // 2])  # an interrupted download of the object before it was replaced
    with serve({**changed, **inventory_objects(changed)}) as server:
        report = sync(client(), server.url(BUCKET), raw, SelectionPolicy())
        gets = [s for s in server.seen(f"{BUCKET}/{name}/") if s.request.path.endswith(".xml")]
    assert not report.failed and name in report.fetched and len(gets) == 2  # the resumed mix, then afresh
    assert (raw / "articles" / "0316" / f"{name}.xml").read_bytes() == new and not part.exists()


def test_metadata_with_a_multipart_etag_is_kept_and_marked_unverified(tmp_path, articles):
    key = "metadata/PMC6500000.1.json"
    real = hashlib.md5(articles[key]).hexdigest()
    with serve(articles) as server:
        server.routes[f"{BUCKET}/"] = listing_route(server, lambda body: body.replace(real.encode(), b"9f8e7d6c5b4a39281706f5e4d3c2b1a0-2"))
        server.routes[f"{BUCKET}/{key}"] = lambda request: Reply(200, {"ETag": '"9f8e7d6c5b4a39281706f5e4d3c2b1a0-2"'}, articles[key])
        report = sync(client(), server.url(BUCKET), tmp_path / "raw", SelectionPolicy(), route="list")
    assert not report.failed and "PMC6500000.1" in report.fetched
    with Manifest(tmp_path / "raw" / "manifest.sqlite") as manifest:
        verified = dict(manifest.db.execute("SELECT key, verified FROM objects WHERE kind = 'metadata'").fetchall())
    assert verified.pop(key) == 0 and set(verified.values()) == {1}


# --- caps -------------------------------------------------------------------------------------------------------------
def run_cli_peak(args: list[str]) -> tuple[float, str]:
    """(peak resident MB, exit status and stderr) of `medcurate ARGS` in a fresh process."""
    return peak_rss_mb(
        "import contextlib, io, sys\nfrom pipelines.cli import main\n"
        f"sys.argv = ['medcurate', *{args!r}]\nerr = io.StringIO()\n"
        "with contextlib.redirect_stderr(err):\n    try:\n        main()\n        code = 0\n"
        "    except SystemExit as exc:\n        code = exc.code\n"
        "print('exit', code, err.getvalue().strip().splitlines()[-1])\n")


def test_endless_listing_pages_and_metadata_stop_at_their_caps_in_little_memory(tmp_path, articles):
    with serve(articles) as server:
        bucket = server.url(BUCKET)
        server.routes[f"{BUCKET}/"] = lambda request: Reply(200, {}, b"<ListBucketResult>", endless=True)
        peak, said = run_cli_peak(["pmc", "list", "--enumerate", "list", "--base-url", bucket, "--out", str(tmp_path / "l")])
        assert said.startswith("exit 1 medcurate: error: ") and "larger than 16777216 bytes" in said and peak < 500, (said, peak)
        server.routes[f"{BUCKET}/"] = listing_route(server)
        key = "metadata/PMC6500000.1.json"
        server.routes[f"{BUCKET}/{key}"] = lambda request: Reply(200, {}, b'{"pmcid": "', endless=True)
        peak, said = run_cli_peak(["pmc", "fetch", "--enumerate", "list", "--base-url", bucket, "--out", str(tmp_path / "raw")])
    assert said.startswith("exit 0 pmc fetch: 14 versions listed, 8 articles selected") and peak < 500, (said, peak)
    assert f"{key}: http://" in said and "body larger than 1048576 bytes" in said


def test_an_endless_article_stops_at_the_object_cap_and_a_run_at_the_run_cap(tmp_path, articles):
    raw = tmp_path / "raw"
    name = "PMC3166277.1"
    with serve({**articles, **inventory_objects(articles)}) as server:
        server.routes[f"{BUCKET}/{name}/{name}.xml"] = lambda request: Reply(200, {}, b"<article>", endless=True)
        report = sync(client(), server.url(BUCKET), raw, SelectionPolicy(), limits=Limits(object_bytes=1 << 20, failed_share=1.0))
        assert [f["id"] for f in report.failed] == [name] and "larger than 1048576 bytes" in report.failed[0]["reason"]
        assert not list(raw.rglob("*.part")) and len(stored_xml(raw)) == 8
        del server.routes[f"{BUCKET}/{name}/{name}.xml"]
        capped = sync(client(), server.url(BUCKET), tmp_path / "capped", SelectionPolicy(), workers=1, limits=Limits(run_bytes=1))
        assert 1 <= capped.fetched_count <= 2 and capped.left_for_later == 9 - capped.fetched_count and capped.run_bytes_reached
        assert "left for a later sync (pmc.max_run_bytes reached)" in capped.summary()
        rest = sync(client(), server.url(BUCKET), tmp_path / "capped", SelectionPolicy())
    assert rest.fetched_count == capped.left_for_later and rest.skipped == capped.fetched_count and not rest.removed


# --- configuration ----------------------------------------------------------------------------------------------------
def test_a_null_base_url_means_the_live_bucket(tmp_path):
    from pipelines.commands.pmc import _bucket_url
    from pipelines.params import load_params
    from sources.pmc.cloud import LIVE_BUCKET_URL
    from sources.pmc.cloud.s3 import object_url
    from sources.pmc.cloud.sync import Store

    params = tmp_path / "params.yaml"
    params.write_text("pmc: {base_url: null}\n")
    assert _bucket_url(None, load_params(params)) == LIVE_BUCKET_URL == "https://pmc-oa-opendata.s3.amazonaws.com"
    assert _bucket_url("http://127.0.0.1:1/mirror", load_params(params)) == "http://127.0.0.1:1/mirror"
    with Store(tmp_path / "raw", None) as store:
        assert object_url(store.base_url, "metadata/PMC1.1.json") == f"{LIVE_BUCKET_URL}/metadata/PMC1.1.json"
