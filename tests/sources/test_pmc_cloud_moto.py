"""The PMC Cloud client against a real S3 implementation: moto's S3 server on 127.0.0.1.

The local test bucket (pmc_bucket.py) answers as the demo does; moto answers as S3 does: its own
ListObjectsV2 paging and continuation tokens, multipart ETags ("…-N"), and S3's error bodies
(NoSuchBucket). The bucket holds the demo's articles built from ../shared, uploaded with boto3.
"""
import pytest
from typer.testing import CliRunner

from conftest import SHARED
from pipelines.cli_common import app
from pipelines.commands import pmc  # noqa: F401  (registers the command group)
from pipelines.demo_bucket import article_objects, inventory_objects
from sources.pmc.cloud.manifest import Manifest
from sources.pmc.cloud.s3 import list_objects
from sources.pmc.cloud.sync import sync
from sources.pmc.cloud.versions import SelectionPolicy

try:
    from tests.sources.pmc_bucket import client
except ImportError:  # tests/ is not a package: pytest put this folder on sys.path
    from pmc_bucket import client

boto3 = pytest.importorskip("boto3")
moto_server = pytest.importorskip("moto.server")
BUCKET = "pmc-oa-opendata"
DENYING = "pmc-mostly-private"
MULTIPART = "metadata/PMC6500000.1.json"  # uploaded in parts: its ETag carries no MD5


@pytest.fixture(scope="module")
def s3_bucket():
    """(moto's endpoint, the objects uploaded) for a module's tests."""
    server = moto_server.ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    endpoint = f"http://{host}:{port}"
    s3 = boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1",
                      aws_access_key_id="testing", aws_secret_access_key="testing")
    s3.create_bucket(Bucket=BUCKET)
    s3.create_bucket(Bucket=DENYING)
    articles = article_objects(SHARED)
    # The inventory lists each key with the ETag S3 gives it, as S3 Inventory does.
    etags = {}
    for key, data in sorted(articles.items()):
        if key == MULTIPART:
            upload = s3.create_multipart_upload(Bucket=BUCKET, Key=key, ACL="public-read")
            part = s3.upload_part(Bucket=BUCKET, Key=key, UploadId=upload["UploadId"], PartNumber=1, Body=data)
            done = s3.complete_multipart_upload(Bucket=BUCKET, Key=key, UploadId=upload["UploadId"],
                                                MultipartUpload={"Parts": [{"ETag": part["ETag"], "PartNumber": 1}]})
            etags[key] = done["ETag"].strip('"')
        else:
            etags[key] = s3.put_object(Bucket=BUCKET, Key=key, Body=data, ACL="public-read")["ETag"].strip('"')
        # A copy in which most metadata is private: anonymous GETs of it are denied (403).
        private = key.startswith("metadata/") and key not in sorted(k for k in articles if k.startswith("metadata/"))[:2]
        s3.put_object(Bucket=DENYING, Key=key, Body=data, ACL="private" if private else "public-read")
    for key, data in inventory_objects(articles, etags=etags).items():
        s3.put_object(Bucket=BUCKET, Key=key, Body=data, ACL="public-read")
    yield endpoint, articles, etags
    server.stop()


def test_paging_and_etags_as_s3_gives_them(s3_bucket):
    endpoint, articles, etags = s3_bucket
    listed = list(list_objects(client(), f"{endpoint}/{BUCKET}", "metadata/", max_keys=5))
    assert [o.key for o in listed] == sorted(k for k in articles if k.startswith("metadata/"))
    assert etags[MULTIPART].endswith("-1") and {o.key: o.etag for o in listed} == {o.key: etags[o.key] for o in listed}


def test_a_sync_from_s3_keeps_multipart_metadata_marked_unverified(s3_bucket, tmp_path):
    endpoint, articles, _ = s3_bucket
    raw = tmp_path / "raw"
    for route in ("inventory", "list"):
        report = sync(client(), f"{endpoint}/{BUCKET}", raw, SelectionPolicy(), route=route)
        assert not report.failed and report.listed == 14 and report.selected == 9
    assert report.metadata_fetched == 0 and report.skipped == 9  # the second route found everything current
    for path in (raw / "articles").rglob("*.xml"):
        assert path.read_bytes() == articles[f"{path.stem}/{path.name}"]
    with Manifest(raw / "manifest.sqlite") as manifest:
        unverified = [r[0] for r in manifest.db.execute("SELECT key FROM objects WHERE verified = 0")]
    assert unverified == [MULTIPART]


def test_a_missing_bucket_names_the_s3_error_code(s3_bucket, tmp_path):
    endpoint, _, _ = s3_bucket
    params = tmp_path / "params.yaml"
    params.write_text("http: {retries: 0}\n")
    result = CliRunner().invoke(app, ["pmc", "list", "--enumerate", "list", "--base-url", f"{endpoint}/no-such-bucket",
                                      "--out", str(tmp_path / "l.jsonl"), "--params", str(params)])
    assert result.exit_code == 1 and result.output.count("\n") == 1
    assert "HTTP 404 (S3 error NoSuchBucket: The specified bucket does not exist)" in result.output


def test_a_bucket_denying_most_gets_fails_the_listing(s3_bucket, tmp_path):
    endpoint, _, _ = s3_bucket
    result = CliRunner().invoke(app, ["pmc", "list", "--enumerate", "list", "--base-url", f"{endpoint}/{DENYING}",
                                      "--out", str(tmp_path / "l.jsonl")])
    assert result.exit_code == 1 and result.output.count("\n") == 1, result.output
    assert "12 of 14 metadata fetches failed, more than 10% (pmc.max_failed_share)" in result.output and "HTTP 403" in result.output
    assert not (tmp_path / "l.jsonl").exists()
