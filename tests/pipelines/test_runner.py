"""The stage runner: resume, reset on a new plan, Dask and in-process give the same bytes."""
import json
from pathlib import Path

import pytest

from curation.accounting import AccountingError
from curation.schema import make_document
from pipelines.executor import Executor
from pipelines.runner import run_stage


def words_work(payload: tuple[str, int], output) -> None:
    """Each payload is a text file; one document per line, lines under `min_words` ledgered."""
    path, min_words = payload
    try:
        lines = Path(path).read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as error:
        output.input_failed(path, error)
        return
    for number, line in enumerate(lines):
        doc = make_document(
            id=f"lines:{Path(path).name}:{number}", source="lines", subset="replay", title="", text=line,
            url=f"file://{path}#{number}", provenance=path,
        )
        if len(line.split()) < min_words:
            output.drop(doc, "too_short_words")
        else:
            output.emit(doc)
    output.input_parsed()


def make_inputs(folder: Path, files: int = 4) -> list[tuple[str, int]]:
    folder.mkdir(parents=True, exist_ok=True)
    payloads = []
    for i in range(files):
        path = folder / f"in{i}.txt"
        path.write_text("\n".join(("word " * (k % 7)).strip() for k in range(50 + i)), encoding="utf-8")
        payloads.append((str(path), 3))
    bad = folder / "bad.txt"
    bad.write_bytes(b"\xff\xfe\x00not utf-8")
    payloads.append((str(bad), 3))
    return payloads


def snapshot(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def test_stage_counts_ledgers_errors_and_stats(tmp_path):
    payloads = make_inputs(tmp_path / "in")
    with Executor(scheduler="sync") as executor:
        counts = run_stage("unit", tmp_path / "out", payloads, words_work, executor)
    stats = json.loads((tmp_path / "out" / "stats.json").read_text())
    assert stats["inputs"] == 5 and stats["input_errors"] == 1 and stats["inputs_parsed"] == 4
    assert stats["documents_in"] == sum(len(Path(p).read_text().splitlines()) for p, _ in payloads[:4])
    assert stats["documents_in"] == stats["documents_out"] + stats["ledgered"]
    assert stats["reasons"] == {"too_short_words": counts.ledgered}
    assert (tmp_path / "out" / "errors").is_dir()


def test_rerun_skips_finished_tasks_and_redoes_interrupted_ones(tmp_path):
    payloads = make_inputs(tmp_path / "in")
    out = tmp_path / "out"
    with Executor(scheduler="sync") as executor:
        run_stage("unit", out, payloads, words_work, executor)
        reference = snapshot(out)
        # Simulate a crash: task 2 never finished (no marker, a half-written temporary shard).
        (out / "_tasks" / "00002.json").unlink()
        (out / "part-00002-0000.parquet").rename(out / "part-00002-0000.parquet.tmp")
        marker_before = (out / "_tasks" / "00001.json").stat().st_mtime_ns
        run_stage("unit", out, payloads, words_work, executor)
    assert (out / "_tasks" / "00001.json").stat().st_mtime_ns == marker_before  # not redone
    assert snapshot(out) == reference


def test_new_plan_starts_from_an_empty_folder(tmp_path):
    payloads = make_inputs(tmp_path / "in")
    out = tmp_path / "out"
    with Executor(scheduler="sync") as executor:
        run_stage("unit", out, payloads, words_work, executor)
        run_stage("unit", out, payloads[:2], words_work, executor)
    assert sorted(p.name for p in out.glob("part-*")) == ["part-00000-0000.parquet", "part-00001-0000.parquet"]


def test_expected_count_catches_silent_loss(tmp_path):
    payloads = make_inputs(tmp_path / "in")
    with Executor(scheduler="sync") as executor, pytest.raises(AccountingError, match="inputs hold"):
        run_stage("unit", tmp_path / "out", payloads, words_work, executor, expected_documents_in=1)


@pytest.mark.slow
def test_local_cluster_and_existing_scheduler_give_identical_bytes(tmp_path):
    from distributed import LocalCluster

    payloads = make_inputs(tmp_path / "in")
    with Executor(scheduler="sync") as executor:
        run_stage("unit", tmp_path / "sync", payloads, words_work, executor)
    with Executor(workers=2) as executor:
        run_stage("unit", tmp_path / "local", payloads, words_work, executor)
    with LocalCluster(n_workers=1, threads_per_worker=2, processes=False, dashboard_address=None) as cluster:
        with Executor(scheduler=cluster.scheduler_address) as executor:
            run_stage("unit", tmp_path / "remote", payloads, words_work, executor)
    assert snapshot(tmp_path / "sync") == snapshot(tmp_path / "local") == snapshot(tmp_path / "remote")


WORKER_CHECK = """
import dask, json, sys
import pipelines.stages.dedup  # the stage this process runs
from pipelines.executor import Executor

if __name__ == "__main__":
    with Executor(workers=1) as executor:
        run = executor.client.run
        print(json.dumps({
            "method": list(run(dask.config.get, "distributed.worker.multiprocessing-method").values()),
            "loaded": list(run(eval, "'pipelines.stages.dedup' in __import__('sys').modules").values()),
            "profile": list(run(dask.config.get, "distributed.worker.profile.enabled").values()),
            "blas_threads": list(run(eval, "__import__('os').environ.get('OMP_NUM_THREADS')").values()),
        }))
    print(json.dumps(dask.config.get("distributed.worker.multiprocessing-method")))
"""


def test_local_workers_start_with_the_work_code_loaded(tmp_path):
    """Local workers fork from a server that imported the stage's modules (no imports per worker);
    the Dask settings of our cluster are undone when it closes. A fresh process: the forkserver of
    this one may already run with other modules."""
    import subprocess
    import sys

    script = tmp_path / "check.py"
    script.write_text(WORKER_CHECK)
    result = subprocess.run([sys.executable, str(script)], cwd=Path(__file__).parents[2], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    inside, after = result.stdout.strip().splitlines()[-2:]
    assert json.loads(inside) == {"method": ["forkserver"], "loaded": [True], "profile": [False], "blas_threads": ["1"]}
    assert json.loads(after) == "spawn"


def test_workers_follow_the_amount_of_input():
    from pipelines.executor import workers_for

    mb = 1 << 20
    assert workers_for(200 * 1024, tasks=1, most=8, bytes_per_worker=64 * mb) == 1  # one small file: in-process
    assert workers_for(100 * mb, tasks=10, most=8, bytes_per_worker=64 * mb) == 1  # 1.6 workers' worth: one
    assert workers_for(200 * mb, tasks=10, most=8, bytes_per_worker=64 * mb) == 3
    assert workers_for(200 * mb, tasks=2, most=8, bytes_per_worker=64 * mb) == 2  # no more than tasks
    assert workers_for(900 * mb, tasks=100, most=4, bytes_per_worker=64 * mb) == 4  # no more than asked
    assert workers_for(0, tasks=5, most=4, bytes_per_worker=0) == 4  # size unknown: tasks decide


def test_a_small_input_runs_in_process_and_a_large_one_on_the_cluster_with_the_same_bytes(tmp_path):
    """Sized by input: the small files need no cluster (none is started); with a tiny
    bytes_per_worker the same input takes 2 local workers; both write the same bytes."""
    payloads = make_inputs(tmp_path / "in")
    paths = [p for p, _ in payloads]
    with Executor(workers=2, bytes_per_worker=16 << 20) as small:
        small.size_to(paths)
        run_stage("unit", tmp_path / "in_process", payloads, words_work, small)
        assert small.is_sync and small._cluster is None
    with Executor(workers=2, bytes_per_worker=1) as large:
        large.size_to(paths)
        run_stage("unit", tmp_path / "cluster", payloads, words_work, large)
        assert large.workers == 2 and len(large.client.scheduler_info()["workers"]) == 2
    assert snapshot(tmp_path / "in_process") == snapshot(tmp_path / "cluster")


def test_a_folder_made_from_other_files_is_not_taken_for_done(tmp_path):
    """A stage folder counts as done (or resumes) only on the very files it was made from: the
    same names replaced since, as a stage writes (a new file renamed over the old), with as many
    rows and other texts, redo it. Before, a second `medcurate filter` after its input was
    rewritten found every task done and kept the first run's documents."""
    from curation.shards import list_shards, read_table
    from curation.schema import DOCUMENT_SCHEMA
    from pipelines.stages import filter as filter_stage
    from realdata import distinct_abstracts, write_shards

    real = distinct_abstracts()[:120]
    inputs = write_shards(real[:60], tmp_path / "in", 30)
    settings = filter_stage.FilterSettings({"steps": ["min_length"]})
    out = tmp_path / "out"
    with Executor(scheduler="sync") as executor:
        filter_stage.run([inputs], out, settings, executor, 1 << 20)
        newer = write_shards(real[60:], tmp_path / "newer", 30)  # same names, same row counts
        for shard in list_shards(newer):
            Path(shard).replace(inputs / Path(shard).name)
        filter_stage.run([inputs], out, settings, executor, 1 << 20)
        filter_stage.run([inputs], tmp_path / "fresh", settings, executor, 1 << 20)
    ids = lambda folder: read_table(list_shards(folder), DOCUMENT_SCHEMA).column("id").to_pylist()
    assert ids(out) == ids(tmp_path / "fresh") == [d["id"] for d in real[60:]]
