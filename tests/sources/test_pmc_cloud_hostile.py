"""The PMC Cloud client against hostile remotes and bad stores (issue 15).

Every case serves the bad input from 127.0.0.1 (or writes the bad store) and runs the real sync
or command on it: a second sync into a held store, an empty inventory, keys and paths that climb
out of the store, numbers past SQLite's integers, JSON nested 200k deep, a damaged manifest,
listings that never end, a bucket that mostly answers 403, and what a sync records for each.
"""
import gzip
import hashlib
import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

from conftest import REPO, SHARED
from pipelines.cli_common import app
from pipelines.commands import pmc  # noqa: F401  (registers the command group)
from pipelines.demo_bucket import INVENTORY, article_objects, inventory_objects, list_objects_v2
from sources.errors import FetchError, HostileInputError, InputError
from sources.http import HttpClient
from sources.pmc.cloud.manifest import Manifest
from sources.pmc.cloud.sync import TOMBSTONES, MassRemovalError, RemovalLimit, sync
from sources.pmc.cloud.versions import SelectionPolicy

try:
    from tests.sources.ncbi_server import LocalServer, Reply
except ImportError:  # tests/ is not a package: pytest put this folder on sys.path
    from ncbi_server import LocalServer, Reply

BUCKET = "/pmc-oa-opendata"
runner = CliRunner()


def client(retries: int = 0) -> HttpClient:
    return HttpClient(retries=retries, backoff=0.0, jitter=0.0, timeout=5)


def serve(objects: dict[str, bytes], **kwargs) -> LocalServer:
    """A LocalServer holding the bucket `objects`, answering ListObjectsV2 at the bucket root."""
    server = LocalServer({f"{BUCKET}/{k}": v for k, v in objects.items()}, **kwargs)
    server.routes[f"{BUCKET}/"] = lambda request: Reply(200, {"Content-Type": "application/xml"}, list_objects_v2(
        {p[len(BUCKET) + 1:]: d for p, d in server.files.items() if p.startswith(BUCKET + "/")}, request.query))
    return server


def publish(server: LocalServer, objects: dict[str, bytes], **kwargs) -> None:
    server.files = {f"{BUCKET}/{k}": v for k, v in {**objects, **inventory_objects(objects, **kwargs)}.items()}


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
        del server.routes[f"{BUCKET}/"]
        server.routes[f"{BUCKET}/"] = lambda request: Reply(200, {"Content-Type": "application/xml"}, list_objects_v2(
            {p[len(BUCKET) + 1:]: d for p, d in server.files.items() if p.startswith(BUCKET + "/")}, request.query))
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
