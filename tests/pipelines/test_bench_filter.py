"""benchmarks/bench_filter.py: its library loop keeps the rows `medcurate filter` keeps, and the
command keeps the same rows whatever its worker count or the order of its input.

The benchmark once counted the library's kept documents as a set of ids and the command's as rows:
on Cohen, where a PMID listed in two review files is two rows, the command seemed to keep more.
"""
import sys
from collections import Counter

import pytest
from conftest import REPO
from realdata import cohen_docs, write_shards

from pipelines.executor import Executor
from pipelines.params import load_params
from pipelines.stages import filter as filter_stage

sys.path.insert(0, str(REPO / "benchmarks"))
import bench_filter  # noqa: E402
import filter_corpus  # noqa: E402


def test_library_loop_keeps_the_rows_the_command_keeps_when_a_pmid_is_in_two_cohen_files(shared, tmp_path):
    abstracts = cohen_docs(with_abstract_only=True)
    repeated = [pmid for pmid, rows in Counter(d["id"] for d in abstracts).items() if rows > 1][:2]
    docs = [d for d in abstracts if d["id"] in repeated] + [d for d in abstracts if d["id"] not in repeated][:40]
    params = load_params(REPO / "params.yaml")
    write_shards(docs, tmp_path / "in", 20)
    with Executor(scheduler="sync") as executor:
        stats = filter_stage.run([tmp_path / "in"], tmp_path / "out", filter_stage.FilterSettings(params["filter"], params["seed"]), executor, 1 << 20)

    _, _, kept = bench_filter.our_library(docs, params["filter"], params["seed"])
    assert len(kept) == stats["documents_out"]
    command_ids = bench_filter.command_kept_ids(tmp_path / "out")
    # The repeated abstracts pass the filter: every one of their rows is kept.
    rows = Counter(d["id"] for d in docs)
    assert len(repeated) == 2 and all(command_ids[pmid] == rows[pmid] > 1 for pmid in repeated)
    assert sum(command_ids.values()) == stats["documents_out"]
    assert bench_filter.command_vs_library(docs, kept, command_ids) == {"same_rows_kept": True, "only_command": [], "only_library": []}
    # The check names the rows one side keeps alone.
    one_row_less = kept - {next(p for p in kept if docs[p]["id"] == repeated[0])}
    assert bench_filter.command_vs_library(docs, one_row_less, command_ids)["only_command"] == [repeated[0]]


def kept_and_ledgered_bytes(out) -> dict[str, bytes]:
    return {str(p.relative_to(out)): p.read_bytes() for p in sorted([*out.glob("part-*.parquet"), *out.glob("ledger/*.parquet")])}


@pytest.mark.slow
def test_filter_keeps_the_same_rows_whatever_the_worker_count_or_order(shared, tmp_path):
    """English abstracts (a repeated PMID among them) and lingua paragraphs, each language step
    engine: in-process and on 2 workers the same bytes; in reverse order the same kept rows."""
    abstracts = cohen_docs(with_abstract_only=True)
    repeated = next(pmid for pmid, rows in Counter(d["id"] for d in abstracts).items() if rows > 1)
    docs = [d for d in abstracts if d["id"] == repeated] + abstracts[:30] + filter_corpus.lingua_docs()[::40]
    params = load_params(REPO / "params.yaml")
    for engine in ("fast", "langdetect"):
        settings = filter_stage.FilterSettings({**params["filter"], "language": {**params["filter"]["language"], "engine": engine}}, params["seed"])
        kept = {}
        for name, rows, executor in (("sync", docs, Executor(scheduler="sync")), ("two", docs, Executor(workers=2)),
                                     ("reversed", docs[::-1], Executor(scheduler="sync"))):
            write_shards(rows, tmp_path / engine / name / "in", 25)
            with executor:
                filter_stage.run([tmp_path / engine / name / "in"], tmp_path / engine / name / "out", settings, executor, 1 << 20)
            kept[name] = bench_filter.command_kept_ids(tmp_path / engine / name / "out")
        assert kept_and_ledgered_bytes(tmp_path / engine / "sync" / "out") == kept_and_ledgered_bytes(tmp_path / engine / "two" / "out")
        assert kept["sync"] == kept["reversed"] and kept["sync"][repeated] > 1
        assert sum(kept["sync"].values()) < len(docs)  # the lingua paragraphs not in English go
