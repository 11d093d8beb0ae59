"""The PMC Cloud bucket route: listings, inventory, version metadata and choice, the incremental sync.

Real bodies quoted in reference/pmc_cloud_2026.md live in tests/data/pmc_cloud; the sync runs
against a local copy of the bucket built from the real JATS articles in ../shared
(pipelines/demo_bucket.py), served with injected faults.
"""
import dataclasses
import gzip
import hashlib
import json
from pathlib import Path

import pytest

from conftest import SHARED
from pipelines.demo_bucket import INVENTORY, article_objects, inventory_objects, list_objects_v2
from sources.errors import ChecksumError, FetchError, InputError, RemoteError
from sources.pmc.cloud import inventory as inv
from sources.pmc.cloud.limits import Limits
from sources.pmc.cloud.manifest import Manifest
from sources.pmc.cloud.s3 import key_and_md5, list_objects, parse_list_page
from sources.pmc.cloud.sync import list_versions, sync
from sources.pmc.cloud.tombstones import TOMBSTONES
from sources.pmc.cloud.versions import SelectionPolicy, choose, parse_version

try:
    from tests.sources.ncbi_server import LocalServer, Reply
    from tests.sources.pmc_bucket import BUCKET, client, publish, serve
except ImportError:  # tests/ is not a package: pytest put this folder on sys.path
    from ncbi_server import LocalServer, Reply
    from pmc_bucket import BUCKET, client, publish, serve

DATA = Path(__file__).resolve().parents[1] / "data" / "pmc_cloud"
SAMPLE_1 = (DATA / "PMC7759461.1.json").read_bytes()
SAMPLE_2 = (DATA / "PMC12855588.1.json").read_bytes()
TOLERANT = Limits(failed_share=1.0)  # a sync whose failures are what the test looks at


def with_version(objects: dict, number: int, version: int, xml: bytes, **flags) -> dict:
    """`objects` plus version `version` of PMC`number`, its metadata copied from version 1 with `flags`."""
    meta = json.loads(objects[f"metadata/PMC{number}.1.json"])
    name = f"PMC{number}.{version}"
    meta.update(version=version, xml_url=f"s3://pmc-oa-opendata/{name}/{name}.xml?md5={hashlib.md5(xml).hexdigest()}", **flags)
    data = json.dumps(meta).encode()
    return {**objects, f"{name}/{name}.xml": xml, f"{name}/{name}.json": data, f"metadata/{name}.json": data}


def xml_gets(server: LocalServer) -> list[str]:
    """Paths of the XML bodies served so far, in order."""
    return [s.request.path for s in server.seen(BUCKET) if s.request.path.endswith(".xml") and s.status in (200, 206)]


# --- ListObjectsV2 ----------------------------------------------------------------------------------------
def test_real_listing_answers():
    page = parse_list_page((DATA / "list_PMC11370360.xml").read_bytes(), "list")
    assert page.prefixes == ["PMC11370360.1/", "PMC11370360.2/"]  # not the echoed top-level <Prefix>
    assert page.objects == [] and page.next_token is None
    absent = parse_list_page((DATA / "list_absent.xml").read_bytes(), "absent")
    assert absent.prefixes == [] and absent.objects == []  # absent, not an error


def test_s3_errors_and_broken_pages_are_clear():
    with pytest.raises(RemoteError, match="NoSuchKey"):
        parse_list_page(b"<Error><Code>NoSuchKey</Code><Message>The specified key does not exist.</Message></Error>", "x")
    truncated = (DATA / "list_absent.xml").read_bytes().replace(b"<IsTruncated>false", b"<IsTruncated>true")
    with pytest.raises(InputError, match="NextContinuationToken"):
        parse_list_page(truncated, "x")


def test_an_s3_error_status_names_the_s3_error_code():
    # S3's answers to a missing bucket and to a denied listing (the body S3 sends with 404 and 403)
    errors = {"/typo-bucket/": (404, b"<Error><Code>NoSuchBucket</Code><Message>The specified bucket does not exist"
                                     b"</Message><BucketName>typo-bucket</BucketName><RequestId>4442587FB7D0A2F9</RequestId></Error>"),
              f"{BUCKET}/": (403, b"<Error><Code>AccessDenied</Code><Message>Access Denied</Message>"
                                  b"<RequestId>656c76696e6727732072657175657374</RequestId></Error>")}
    with LocalServer(routes={path: (lambda request, reply=reply: Reply(reply[0], {"Content-Type": "application/xml"},
                                                                        b'<?xml version="1.0" encoding="UTF-8"?>\n' + reply[1]))
                             for path, reply in errors.items()}) as server:
        with pytest.raises(FetchError, match=r"HTTP 404 \(S3 error NoSuchBucket: The specified bucket does not exist\)") as info:
            list(list_objects(client(), server.url("/typo-bucket"), "metadata/"))
        assert info.value.status == 404
        with pytest.raises(FetchError, match=r"HTTP 403 \(S3 error AccessDenied: Access Denied\)"):
            list(list_objects(client(), server.url(BUCKET), "metadata/"))


def test_paging_follows_continuation_tokens_and_refuses_a_loop():
    objects = {f"metadata/PMC{n}.1.json": b"{}" for n in range(1, 26)}
    with serve(objects) as server:
        listed = list(list_objects(client(), server.url(BUCKET), "metadata/", max_keys=10))
        assert [o.key for o in listed] == sorted(objects) and listed[0].md5 == hashlib.md5(b"{}").hexdigest()
        assert len(server.seen(f"{BUCKET}/")) == 3
        looping = list_objects_v2(objects, {"prefix": "metadata/", "max-keys": "10"})
        server.routes[f"{BUCKET}/"] = lambda request: Reply(200, {}, looping)
        with pytest.raises(InputError, match="repeated"):
            list(list_objects(client(), server.url(BUCKET), "metadata/"))


# --- version metadata and the choice of a version -----------------------------------------------------------
def test_real_metadata_samples():
    first = parse_version(SAMPLE_1, "metadata/PMC7759461.1.json", "e1")
    assert (first.pmcid, first.version, first.pmid, first.doi, first.license, first.license_code) == \
        ("PMC7759461", 1, "32939066", "10.1038/s41586-020-2649-2", "CC BY", "CC-BY")
    assert (first.open_access, first.manuscript, first.historical_ocr, first.retracted) == (True, False, False, False)
    assert (first.xml_key, first.xml_md5) == ("PMC7759461.1/PMC7759461.1.xml", "2ba36e61fa9eb4950c9daef9c9f58812")
    second = parse_version(SAMPLE_2, "metadata/PMC12855588.1.json")
    assert second.xml_md5 == "99210445a56f3315af7e95797556bd6b" and second.citation is None


def test_metadata_is_read_leniently_but_must_agree_with_its_key():
    meta = json.loads(SAMPLE_1)
    lenient = parse_version(json.dumps({**meta, "is_manuscript": "yes", "pmid": None, "license_code": None}).encode(),
                            "metadata/PMC7759461.1.json")
    assert lenient.manuscript is True and lenient.pmid is None and lenient.license_code is None
    for bad, message in [({**meta, "version": 2}, "states pmcid"),
                         ({**meta, "xml_url": "s3://pmc-oa-opendata/PMC1.1/PMC1.1.xml?md5=x"}, "not this version"),
                         ({**meta, "xml_url": "s3://pmc-oa-opendata/PMC7759461.1/../../etc/passwd"}, "not a plain relative path")]:
        with pytest.raises(InputError, match=message):
            parse_version(json.dumps(bad).encode(), "metadata/PMC7759461.1.json")
    with pytest.raises(InputError, match="not JSON"):
        parse_version(b"<html>", "metadata/PMC7759461.1.json")
    assert key_and_md5("https://pmc-oa-opendata.s3.amazonaws.com/PMC7759461.1/PMC7759461.1.xml") == \
        ("PMC7759461.1/PMC7759461.1.xml", None)


def test_one_version_per_article():
    v1 = parse_version(SAMPLE_1, "metadata/PMC7759461.1.json")
    manuscript = dataclasses.replace(v1, version=3, key="metadata/PMC7759461.3.json", manuscript=True)
    v2, v10 = (dataclasses.replace(v1, version=n, key=f"metadata/PMC7759461.{n}.json") for n in (2, 10))
    policy = SelectionPolicy()
    best, others = choose([v1, v2, manuscript], policy)
    assert best == v2 and others == {v1.key: "superseded_by:PMC7759461.2", manuscript.key: "superseded_by:PMC7759461.2"}
    assert choose([v2, v10], policy)[0] == v10  # numerically, not as text
    assert choose([v1, dataclasses.replace(v2, retracted=True)], policy) == (None, {v1.key: "retracted", v2.key: "retracted"})
    assert choose([v1], SelectionPolicy(deny=frozenset({"PMC7759461"})))[0] is None
    tdm = dataclasses.replace(manuscript, license="TDM", license_code="other", open_access=False)
    assert choose([tdm], policy) == (None, {tdm.key: "not_open_access"})
    assert choose([tdm], SelectionPolicy(open_access_only=False)) == (None, {tdm.key: "license_not_selected:TDM"})
    assert choose([tdm], SelectionPolicy(open_access_only=False, families=None))[0] == tdm
    assert choose([tdm], SelectionPolicy(open_access_only=False, families=None, manuscripts=False))[0] is None


# --- the inventory ------------------------------------------------------------------------------------------
def test_inventory_rows_follow_the_manifest_schema(tmp_path):
    shard = tmp_path / "rows.csv.gz"
    rows = (DATA / "inventory_rows.csv").read_bytes()
    shard.write_bytes(gzip.compress(rows + b'"pmc-oa-opendata","PMC2000230.1/PMC2000230.1.xml","2026-02-12T02:59:59.000Z","aa"\n'))
    manifest = json.dumps({"fileFormat": "CSV", "fileSchema": "Bucket, Key, LastModifiedDate, ETag",
                           "files": [{"key": "x/data/rows.csv.gz", "size": 1, "MD5checksum": "0" * 32}]}).encode()
    snapshot = inv.parse_manifest(manifest, "2026-09-01T01-00Z")
    read = list(inv.read_shard(shard, snapshot.columns))
    assert [r.key for r in read] == ["metadata/PMC10000002.1.json", "metadata/PMC10000003.1.json",
                                     "metadata/PMC10000005.1.json", "metadata/PMC2000230.1.json"]
    assert read[-1].etag == "dc97f78385423933f1cf04ad8c4df6e3" and read[0].last_modified == "2026-01-08T11:47:59.000Z"
    with pytest.raises(InputError, match="lacks Key or ETag"):
        inv.parse_manifest(manifest.replace(b"ETag", b"Size"), "s")
    with pytest.raises(InputError, match="unexpected shard key"):
        inv.parse_manifest(manifest.replace(b"rows.csv.gz", b"../../x"), "s")


def test_the_newest_complete_snapshot_is_used():
    objects = inventory_objects(article_objects(SHARED), snapshot="2026-09-01T01-00Z")
    objects["inventory-reports/pmc-oa-opendata/metadata/2026-09-02T01-00Z/partial.csv.gz"] = b""  # no manifest yet
    objects["inventory-reports/pmc-oa-opendata/metadata/hive/dt=2026-09-03/symlink.txt"] = b""
    with serve(objects) as server:
        assert inv.snapshots(client(), server.url(BUCKET)) == ["2026-09-02T01-00Z", "2026-09-01T01-00Z"]
        problems = []
        readable = list(inv.readable_snapshots(client(0), server.url(BUCKET), problems))
    assert [r.snapshot for r in readable] == ["2026-09-01T01-00Z"] and problems[0].startswith("2026-09-02T01-00Z: ")


# --- the sync ---------------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def articles() -> dict[str, bytes]:
    return article_objects(SHARED)


def test_sync_through_faults_then_a_second_sync_asks_for_nothing(tmp_path, articles):
    raw = tmp_path / "raw"
    with serve({**articles, **inventory_objects(articles)}, fault_rate=0.3, seed=5) as server:
        report = sync(client(), server.url(BUCKET), raw, SelectionPolicy())
        assert not report.failed and report.listed == 14
        # Commercial-use licences, no back-scanned item: 9 of the 14 articles.
        stored = sorted(p.name for p in (raw / "articles").rglob("*.xml"))
        assert stored == sorted(f"{v}.xml" for v in report.fetched) and len(stored) == report.selected == 9
        for path in (raw / "articles").rglob("*.xml"):
            assert path.read_bytes() == articles[f"{path.stem}/{path.name}"]
        stamps = {p: p.stat().st_mtime_ns for p in raw.rglob("*") if p.suffix in (".xml", ".json") and p.name != "sync.json"}
        served = len(server.seen(BUCKET))
        again = sync(client(), server.url(BUCKET), raw, SelectionPolicy())
    assert again.skipped == report.selected and not again.fetched and again.metadata_fetched == 0
    asked = {s.request.path for s in server.seen(BUCKET)[served:]}
    assert asked == {f"{BUCKET}/", f"{BUCKET}/{INVENTORY}2026-09-01T01-00Z/manifest.json"}  # the shard is verified on disk
    assert {p: p.stat().st_mtime_ns for p in raw.rglob("*") if p.suffix in (".xml", ".json") and p.name != "sync.json"} == stamps
    assert (raw / TOMBSTONES).read_text() == ""
    with Manifest(raw / "manifest.sqlite") as manifest:
        rows = manifest.db.execute("SELECT kind, count(*), count(error) FROM objects GROUP BY kind").fetchall()
    assert sorted(map(tuple, rows)) == [("article", 9, 0), ("metadata", 14, 0)]


def test_an_interrupted_sync_resumes_and_never_fetches_twice(tmp_path, articles):
    raw = tmp_path / "raw"
    with serve({**articles, **inventory_objects(articles)}) as server:
        good = dict(server.files)
        for path in [p for p in good if p.endswith(".xml")][::2]:
            server.files[path] = b"cut"  # wrong MD5: never lands in the store
        first = sync(client(0), server.url(BUCKET), raw, SelectionPolicy(), route="list", workers=4, limits=TOLERANT)
        assert first.failed and all("md5 mismatch" in f["reason"] for f in first.failed)
        assert sorted(p.stem for p in (raw / "articles").rglob("*.xml")) == sorted(first.fetched)
        server.files, before = good, len(xml_gets(server))
        second = sync(client(0), server.url(BUCKET), raw, SelectionPolicy(), route="list", workers=4)
        asked = [p.rsplit("/", 1)[1].removesuffix(".xml") for p in xml_gets(server)[before:]]
    assert sorted(second.fetched) == sorted(asked) == sorted(f["id"] for f in first.failed) and not second.failed
    assert second.skipped == len(first.fetched) and len(first.fetched) + len(asked) == second.selected


def test_a_damaged_inventory_shard_falls_back_to_the_snapshot_before(tmp_path, articles):
    older = {k: v for k, v in articles.items() if "PMC3585041" not in k}
    objects = {**articles, **inventory_objects(older, snapshot="2026-08-31T01-00Z"), **inventory_objects(articles)}
    shard = next(k for k in inventory_objects(articles) if k.startswith(INVENTORY + "data/"))
    objects[shard] = objects[shard][:-10] + b"0123456789"
    with serve(objects) as server:
        report = sync(client(0), server.url(BUCKET), tmp_path / "raw", SelectionPolicy())
        assert report.inventory["snapshot"] == "2026-08-31T01-00Z" and report.listed == 13 and not report.failed
        server.files[f"{BUCKET}/{INVENTORY}2026-08-31T01-00Z/manifest.json"] = b"{"
        with pytest.raises(FetchError, match=r"no usable inventory snapshot: 2026-09-01T01-00Z: .*md5 mismatch.*; 2026-08-31T01-00Z: .*not JSON"):
            sync(client(0), server.url(BUCKET), tmp_path / "raw", SelectionPolicy())
    assert isinstance(ChecksumError("x"), FetchError)


def test_incremental_sync_updates_removes_and_tombstones(tmp_path, articles):
    raw = tmp_path / "raw"
    with serve({**articles, **inventory_objects(articles)}) as server:
        sync(client(), server.url(BUCKET), raw, SelectionPolicy())
        changed = dict(articles)
        # A new published version of PMC2329613, PMC3166277's XML replaced, PMC3585041 gone from the bucket.
        changed = with_version(changed, 2329613, 2, articles["PMC2329613.1/PMC2329613.1.xml"] + b"\n<!-- v2 -->\n")
        changed = with_version(changed, 3166277, 1, articles["PMC3166277.1/PMC3166277.1.xml"] + b"\n<!-- fixed -->\n")
        for key in [k for k in changed if "PMC3585041.1" in k]:
            del changed[key]
        publish(server, changed)
        before = len(xml_gets(server))
        report = sync(client(), server.url(BUCKET), raw, SelectionPolicy(deny=frozenset({"PMC1790863"})))
        assert sorted(xml_gets(server)[before:]) == [f"{BUCKET}/PMC2329613.2/PMC2329613.2.xml",
                                                       f"{BUCKET}/PMC3166277.1/PMC3166277.1.xml"]
    assert sorted(report.fetched) == ["PMC2329613.2", "PMC3166277.1"]
    stones = [json.loads(line) for line in (raw / TOMBSTONES).read_text().splitlines()]
    assert [(s["pmcid"], s["version"], s["reason"]) for s in stones] == [
        ("PMC1790863", 1, "deny_list"), ("PMC2329613", 1, "superseded_by:PMC2329613.2"), ("PMC3585041", 1, "gone_from_bucket")]
    stored = sorted(p.name for p in (raw / "articles").rglob("*.xml"))
    assert "PMC2329613.2.xml" in stored and not {"PMC1790863.1.xml", "PMC2329613.1.xml", "PMC3585041.1.xml"} & set(stored)
    assert (raw / "articles" / "0316" / "PMC3166277.1.xml").read_bytes().endswith(b"<!-- fixed -->\n")
    assert not (raw / "metadata" / "0358" / "PMC3585041.1.json").exists()
    state = json.loads((raw / "sync.json").read_text())
    assert (state["stored_articles"], state["removed_this_sync"], state["inventory"]["snapshot"]) == (7, 3, "2026-09-01T01-00Z")


def test_list_versions_writes_nothing_but_metadata(tmp_path, articles):
    with serve({**articles, **inventory_objects(articles)}) as server:
        chosen, report = list_versions(client(), server.url(BUCKET), tmp_path / "store", SelectionPolicy(families=None),
                                       pmcids=["PMC10000000", "pmc6500000", "9500000"])
    assert report.listed == 3 and [v.name for v in chosen] == ["PMC6500000.1", "PMC9500000.1"]  # no OCR scan
    assert not (tmp_path / "store" / "articles").exists() and len(list((tmp_path / "store").rglob("*.json"))) == 3


def test_metadata_newer_than_the_inventory_is_taken_a_damaged_one_is_not(tmp_path, articles):
    from pipelines.demo_server import bucket_tree, serve_in_thread

    objects = {**articles, **inventory_objects(articles)}
    newer = json.loads(articles["metadata/PMC6500000.1.json"]) | {"title": "corrected after the snapshot"}
    objects["metadata/PMC6500000.1.json"] = json.dumps(newer).encode()  # S3 serves its MD5 as ETag
    server, base = serve_in_thread(bucket_tree(objects))
    try:
        report = sync(client(), f"{base}{BUCKET}", tmp_path / "raw", SelectionPolicy(), pmcids=["PMC6500000"])
        # The same stale snapshot again: the newer JSON is not fetched again (nor on every sync after).
        again = sync(client(), f"{base}{BUCKET}", tmp_path / "raw", SelectionPolicy(), pmcids=["PMC6500000"])
    finally:
        server.shutdown()
    assert not report.failed and report.fetched == ["PMC6500000.1"] and report.metadata_fetched == 1
    assert (again.metadata_fetched, again.metadata_reused) == (0, 1)
    with Manifest(tmp_path / "raw" / "manifest.sqlite") as manifest:
        row = manifest.get("metadata/PMC6500000.1.json")
    assert row["md5"] == hashlib.md5(objects["metadata/PMC6500000.1.json"]).hexdigest() and row["verified"] == 1
    assert row["etag"] == hashlib.md5(articles["metadata/PMC6500000.1.json"]).hexdigest()  # as listed
    # The next snapshot lists the newer ETag: what is stored is current.
    server, base = serve_in_thread(bucket_tree({**objects, **inventory_objects({**articles, **objects})}))
    try:
        later = sync(client(), f"{base}{BUCKET}", tmp_path / "raw", SelectionPolicy(), pmcids=["PMC6500000"])
    finally:
        server.shutdown()
    assert (later.metadata_fetched, later.metadata_reused) == (0, 1)
    # A body that matches neither the listed nor a served MD5 never lands; the stored article stays.
    files = {**articles, **inventory_objects({**articles, "metadata/PMC6500000.1.json": b'{"listed": "a third one"}'})}
    files["metadata/PMC6500000.1.json"] = b'{"pmcid": "PMC6500000", "version": 1}'
    with serve({**files}) as server:
        damaged = sync(client(0), server.url(BUCKET), tmp_path / "raw", SelectionPolicy(), pmcids=["PMC6500000"], limits=TOLERANT)
    assert [f["id"] for f in damaged.failed] == ["metadata/PMC6500000.1.json"] and "md5 mismatch" in damaged.failed[0]["reason"]
    assert not damaged.removed and (tmp_path / "raw" / "articles" / "0650" / "PMC6500000.1.xml").is_file()


def test_a_report_counts_everything_but_keeps_only_examples():
    from sources.pmc.cloud.sync import EXAMPLES, SyncReport

    report = SyncReport()
    for n in range(EXAMPLES + 5):
        report.fetched_one(f"PMC{n}.1")
        report.failed_one(f"PMC{n}.2", "HTTP 503")
    assert (report.fetched_count, report.failed_count, len(report.fetched), len(report.failed)) == (EXAMPLES + 5,) * 2 + (EXAMPLES,) * 2
    assert f"xml {EXAMPLES + 5} fetched, 0 skipped, {EXAMPLES + 5} failed" in report.summary()


def test_a_sync_merges_its_tombstones_into_a_long_file_line_by_line(tmp_path, articles):
    """removed.jsonl grows with every sync: a sync merges its few new tombstones into it line by
    line instead of loading it: with 60,000 earlier tombstones, 1 MB traced (108 MB when it loaded them)."""
    import tracemalloc

    raw = tmp_path / "raw"
    with serve({**articles, **inventory_objects(articles)}) as server:
        sync(client(), server.url(BUCKET), raw, SelectionPolicy())
        earlier = [{"pmcid": f"PMC{40 * n + 7}", "version": 1, "reason": "gone_from_bucket", "key": f"PMC{40 * n + 7}.1/x.xml",
                    "license": "CC BY", "sha256": "ab" * 32, "removed_at": "2026-01-01T00:00:00Z"} for n in range(60_000)]
        (raw / TOMBSTONES).write_text("".join(json.dumps(s, sort_keys=True) + "\n" for s in earlier))
        changed = {k: v for k, v in articles.items() if "PMC3585041.1" not in k}
        publish(server, changed)
        tracemalloc.start()
        report = sync(client(), server.url(BUCKET), raw, SelectionPolicy())
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
    assert [s["pmcid"] for s in report.removed] == ["PMC3585041"]
    stones = [json.loads(line) for line in (raw / TOMBSTONES).read_text().splitlines()]
    assert len(stones) == 60_001 and [s for s in stones if s["pmcid"] == "PMC3585041"][0]["reason"] == "gone_from_bucket"
    assert [(int(s["pmcid"][3:]), s["version"]) for s in stones] == sorted((int(s["pmcid"][3:]), s["version"]) for s in stones)
    assert peak < 16 << 20, f"{peak >> 20} MB traced"


def test_tombstones_out_of_order_stop_the_sync_before_it_removes_anything(tmp_path, articles):
    raw = tmp_path / "raw"
    with serve({**articles, **inventory_objects(articles)}) as server:
        sync(client(), server.url(BUCKET), raw, SelectionPolicy())
        (raw / TOMBSTONES).write_text('{"pmcid": "PMC9", "version": 1, "reason": "deny_list"}\n{"pmcid": "PMC7", "version": 1, "reason": "deny_list"}\n')
        publish(server, {k: v for k, v in articles.items() if "PMC3585041.1" not in k})
        with pytest.raises(InputError, match=r"removed.jsonl:2: tombstones out of order"):
            sync(client(), server.url(BUCKET), raw, SelectionPolicy())
    assert (raw / "articles" / "0358" / "PMC3585041.1.xml").exists()
