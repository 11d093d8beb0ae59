"""filter and dedup on a real S3 implementation: moto's S3 server on 127.0.0.1, started here, found
by the stages through the backend's standard environment (AWS_ENDPOINT_URL).

Object stores have no rename: a task writes its files to their final names, then its marker, and
readers trust only what the markers of a completed stage name (curation/task_output.py). So a
stage killed with SIGKILL and run again, run with 1 or 2 workers, or run to a local folder instead
of a bucket, ends with the same bytes; and a cluster whose workers share no disk (each its own
working and temporary folder) runs both stages with nothing but URLs between its tasks.
"""
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from conftest import REPO
from curation import storage
from curation.schema import DOCUMENT_SCHEMA
from curation.shards import read_table
from curation.task_output import IncompleteStage, complete_shards
from moto_s3 import moto_s3, s3_env, s3_environment  # noqa: F401  (fixtures)
from pipelines.cli_common import app
from pipelines.commands import curate  # noqa: F401  (registers filter and dedup)
from realdata import distinct_abstracts, variant, write_shards

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def corpus(tmp_path_factory) -> Path:
    """Real abstracts, near-duplicate variants and replay copies: 7 shards of 200 documents."""
    import random

    real = distinct_abstracts()[:1200]
    rng = random.Random(2)
    extra = [dict(d, id=f"variant:{d['id']}", pmid=None, text=variant(d["text"], rng)) for d in real[:150]]
    extra += [dict(real[i], id=f"replay/x:{i}", source="replay/x", subset="replay", pmid=None) for i in range(150, 200)]
    return write_shards(real + extra, tmp_path_factory.mktemp("corpus") / "in", 200)


@pytest.fixture(scope="module")
def params_file(tmp_path_factory) -> Path:
    """The project's params with small shards, so that a task writes several and a kill can fall
    between them."""
    params = yaml.safe_load((REPO / "params.yaml").read_text())
    params["run"]["shard_mb"] = 0.05
    path = tmp_path_factory.mktemp("params") / "params.yaml"
    path.write_text(yaml.safe_dump(params))
    return path


def run_cli(*args: str) -> None:
    result = CliRunner().invoke(app, [str(a) for a in args])
    assert result.exit_code == 0, result.output


def tree(folder: str) -> dict[str, bytes]:
    """Every file under a folder (path or URL), by its place in it."""
    root = storage.norm(folder)
    return {p[len(root) + 1:].replace(os.sep, "/"): storage.read_bytes(p) for p in storage.walk_files(root)}


def kill_when(command: list[str], ready, log: Path) -> None:
    """Start `command`, SIGKILL it once `ready()` holds; fail if it finished first."""
    with open(log, "wb") as stderr:
        process = subprocess.Popen(command, cwd=REPO, stdout=subprocess.DEVNULL, stderr=stderr)
        deadline = time.monotonic() + 300
        while not ready():
            if process.poll() is not None:
                pytest.fail(f"the stage finished before it could be killed: {log.read_text()[-2000:]}")
            assert time.monotonic() < deadline, "the stage made no progress"
            time.sleep(0.02)
        process.send_signal(signal.SIGKILL)
        assert process.wait() == -signal.SIGKILL


def run_process(command: list[str]) -> None:
    """A command in its own process (and its own local cluster, which inherits this environment)."""
    done = subprocess.run(command, cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    assert done.returncode == 0, done.stderr.decode()[-2000:]


def stage_command(stage: str, inputs, out: str, params_file: Path, *options: str) -> list[str]:
    return [sys.executable, "-m", "pipelines.cli", stage, *map(str, inputs), "--out", out,
            "--params", str(params_file), *(options or ("--scheduler", "sync"))]


@pytest.fixture(scope="module")
def local_runs(corpus, params_file, tmp_path_factory) -> dict[str, str]:
    """filter, then dedup, to local folders in one process: the bytes every other run must give."""
    root = tmp_path_factory.mktemp("local")
    run_cli("filter", corpus, "--out", root / "filtered", "--params", params_file, "--scheduler", "sync")
    run_cli("dedup", corpus, "--out", root / "dedup", "--params", params_file, "--scheduler", "sync")
    return {"filter": str(root / "filtered"), "dedup": str(root / "dedup")}


def test_filter_killed_on_s3_then_rerun_gives_the_local_bytes(s3_env, corpus, params_file, local_runs, tmp_path):
    out = storage.join(s3_env, "filtered")
    command = stage_command("filter", [corpus], out, params_file)
    kill_when(command, lambda: len(storage.files(storage.join(out, "_tasks"), "0*.json")) >= 2, tmp_path / "log")
    # Killed mid-stage: the stage is incomplete, and readers refuse it instead of reading part of it.
    assert not storage.exists(storage.join(out, "stats.json"))
    with pytest.raises(IncompleteStage):
        complete_shards(out)
    run_process(command)
    assert tree(out) == tree(local_runs["filter"])
    documents = read_table(complete_shards(out), DOCUMENT_SCHEMA)
    assert 0 < documents.num_rows < 1400


def test_dedup_killed_on_s3_then_rerun_gives_the_local_bytes(s3_env, corpus, params_file, local_runs, tmp_path):
    out = storage.join(s3_env, "dedup")
    command = stage_command("dedup", [corpus], out, params_file)
    kill_when(command, lambda: bool(storage.files(storage.join(out, "_work", "keys"), "*.done")), tmp_path / "log")
    assert storage.files(storage.join(out, "_work", "keys"), "*.done")  # the shuffle's scratch is in the bucket
    run_process(command)
    expected = tree(local_runs["dedup"])
    assert tree(out) == expected and not storage.exists(storage.join(out, "_work", "inputs.digest"))
    stats = json.loads(expected["stats.json"])
    assert stats["documents_out"] == 1200 and stats["near_duplicates"]["verified_pairs"] > 0


def test_two_workers_write_the_bytes_of_one(s3_env, corpus, params_file, local_runs):
    out = storage.join(s3_env, "dedup2")
    run_process(stage_command("dedup", [corpus], out, params_file, "--workers", "2"))
    assert tree(out) == tree(local_runs["dedup"])


class _OwnWorkingFolder:
    """A worker plugin: each worker works in its own folder, so a relative path that one task
    left for another would name nothing."""

    name = "own-working-folder"

    def setup(self, worker):
        os.chdir(worker.local_directory)


def test_workers_that_share_no_disk(s3_env, moto_s3, corpus, params_file, local_runs, tmp_path):
    from distributed import Client, Nanny, Scheduler, SpecCluster
    from distributed.diagnostics.plugin import WorkerPlugin

    plugin = type("OwnWorkingFolder", (_OwnWorkingFolder, WorkerPlugin), {})()
    # The inputs too are in the bucket: the workers read nothing from this machine's disk.
    inputs = storage.join(s3_env, "in")
    for path in sorted(corpus.glob("*.parquet")):
        storage.write_bytes(storage.join(inputs, path.name), path.read_bytes())
    workers = {
        f"w{i}": {"cls": Nanny, "options": {
            "nthreads": 1, "local_directory": str(tmp_path / f"work{i}"),
            "env": {**s3_environment(moto_s3), "TMPDIR": str(tmp_path / f"tmp{i}")}}}
        for i in range(2)
    }
    for i in range(2):
        (tmp_path / f"tmp{i}").mkdir()
    scheduler = {"cls": Scheduler, "options": {"dashboard_address": None, "host": "127.0.0.1"}}
    with SpecCluster(workers=workers, scheduler=scheduler, silence_logs=50) as cluster, Client(cluster) as client:
        client.register_plugin(plugin)
        filtered, deduped = storage.join(s3_env, "filtered"), storage.join(s3_env, "dedup")
        run_cli("filter", inputs, "--out", filtered, "--params", params_file, "--scheduler", cluster.scheduler_address)
        run_cli("dedup", filtered, "--out", deduped, "--params", params_file, "--scheduler", cluster.scheduler_address)
        seen = client.run(os.getcwd)
    assert sorted(Path(cwd).relative_to(tmp_path).parts[0] for cwd in seen.values()) == ["work0", "work1"]
    # The same documents and ledgers as local runs in this process (stats and plans name the
    # inputs, which lie elsewhere here).
    local_dedup = tmp_path / "dedup"
    run_cli("dedup", local_runs["filter"], "--out", local_dedup, "--params", params_file, "--scheduler", "sync")
    for out, local in ((filtered, local_runs["filter"]), (deduped, local_dedup)):
        got, expected = tree(out), tree(local)
        shards = {k for k in expected if k.endswith(".parquet")}
        assert shards and {k: got.get(k) for k in shards} == {k: expected[k] for k in shards}
