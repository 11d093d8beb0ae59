import json
import shutil
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from curation.accounting import AccountingError, Counts
from curation.schema import DOCUMENT_SCHEMA, ERROR_SCHEMA, LEDGER_SCHEMA, make_document
from curation.shards import ShardWriter, list_shards, read_table, write_table_atomic
from curation.task_output import TaskOutput, clear_task, read_marker, task_done


def doc(i: int, text: str = "some text") -> dict:
    return make_document(
        id=f"test:{i}", source="test", subset="abstracts", title=f"t{i}", text=text, url=f"https://x/{i}",
        meta={"b": 1, "a": [2]}, provenance="unit",
    )


def test_make_document_requires_columns_and_canonicalises_meta():
    d = doc(1)
    assert d["meta"] == '{"a":[2],"b":1}'
    assert d["pmid"] is None and d["lang_score"] is None
    with pytest.raises(ValueError, match="lacks required"):
        make_document(id="x", source="s")
    with pytest.raises(ValueError, match="unknown"):
        make_document(id="x", bogus=1)


def test_shard_writer_rolls_over_by_size_with_fixed_names_and_zstd(tmp_path):
    writer = ShardWriter(tmp_path, task=3, schema=DOCUMENT_SCHEMA, target_bytes=2000, row_group_rows=4)
    for i in range(30):
        writer.write(doc(i, "x" * 200))
    written = writer.close()
    assert [Path(p).name for p in written] == [f"part-00003-{k:04d}.parquet" for k in range(len(written))]
    assert len(written) > 2
    assert not list(tmp_path.glob("*.tmp"))
    meta = pq.ParquetFile(written[0]).metadata
    assert meta.row_group(0).column(0).compression == "ZSTD"
    assert meta.row_group(0).num_rows == 4
    table = read_table(list_shards(tmp_path), DOCUMENT_SCHEMA)
    assert table.schema == DOCUMENT_SCHEMA
    assert table["id"].to_pylist() == [f"test:{i}" for i in range(30)]


def test_shard_writer_holds_at_most_a_row_group_as_python_rows(tmp_path):
    """Rows become Arrow batches a row group at a time; the shard is the same as one written from
    a single table of all the rows."""
    writer = ShardWriter(tmp_path / "batched", 0, DOCUMENT_SCHEMA, row_group_rows=4)
    rows = [doc(i, "word " * i) for i in range(10)]
    for row in rows:
        writer.write(row)
        assert len(writer.rows) < 4
    assert [b.num_rows for b in writer.batches] == [4, 4]
    [path] = writer.close()
    write_table_atomic(pa.Table.from_pylist(rows, schema=DOCUMENT_SCHEMA), tmp_path / "whole.parquet", 4)
    assert Path(path).read_bytes() == (tmp_path / "whole.parquet").read_bytes()


def test_same_rows_give_same_bytes(tmp_path):
    for name in ("a", "b"):
        writer = ShardWriter(tmp_path / name, 0, DOCUMENT_SCHEMA)
        for i in range(10):
            writer.write(doc(i))
        writer.close()
    assert (tmp_path / "a" / "part-00000-0000.parquet").read_bytes() == (tmp_path / "b" / "part-00000-0000.parquet").read_bytes()


def test_task_output_counts_and_marker(tmp_path):
    out = TaskOutput(tmp_path, 0, "unit")
    out.emit(doc(1))
    out.emit(doc(2), split="validation")
    out.drop(doc(3), "near_duplicate_of:test:1", "jaccard 0.9")
    out.record_failed("file.xml", "#4", ValueError("bad record"))
    out.input_parsed()
    out.input_failed("broken.xml.gz", EOFError("Compressed file ended before the end-of-stream marker was reached"))
    assert not task_done(tmp_path, 0)
    summary = out.close()
    assert task_done(tmp_path, 0)
    counts = Counts.from_dict(read_marker(tmp_path, 0)["counts"])
    assert counts.documents_in == 4 and counts.documents_out == 2 and counts.ledgered == 1 and counts.record_errors == 1
    assert counts.inputs == 2 and counts.input_errors == 1
    assert counts.reasons == {"near_duplicate_of": 1}
    assert counts.by_split == {"validation": 1}
    counts.check("unit")
    ledger = read_table(list_shards(tmp_path / "ledger"), LEDGER_SCHEMA).to_pylist()
    assert ledger[0]["reason"] == "near_duplicate_of:test:1" and ledger[0]["text"] == "some text"
    errors = read_table(list_shards(tmp_path / "errors"), ERROR_SCHEMA).to_pylist()
    assert {e["input"] for e in errors} == {"file.xml", "broken.xml.gz"}
    assert errors[1]["error"].startswith("EOFError: Compressed file ended")
    assert summary["counts"]["documents_out_by_split"] == {"validation": 1}
    clear_task(tmp_path, 0)
    assert not list(tmp_path.rglob("part-00000-*"))


def test_accounting_fails_loudly_when_documents_vanish():
    counts = Counts(documents_in=10, documents_out=7, ledgered=2)
    counts.reasons["too_short_chars"] = 2
    with pytest.raises(AccountingError, match="documents_in=10"):
        counts.check("unit")
    counts = Counts(inputs=3, inputs_parsed=1, input_errors=1)
    with pytest.raises(AccountingError, match="inputs=3"):
        counts.check("unit")
    good = Counts(documents_in=3, documents_out=2, ledgered=1, inputs=1, inputs_parsed=1)
    good.reasons["x"] = 1
    good.check("unit")
    assert json.loads(json.dumps(good.to_dict()))["reasons"] == {"x": 1}


def test_unread_rows_of_an_input_in_the_error_ledger_are_not_documents_in():
    counts = Counts(documents_in=7, documents_out=5, ledgered=2, inputs=2, inputs_parsed=1, input_errors=1, documents_unread=3)
    counts.reasons["x"] = 2
    counts.check("unit", expected_documents_in=10)
    with pytest.raises(AccountingError, match="documents_in=7 \\+ documents_unread=3"):
        counts.check("unit", expected_documents_in=11)
    assert Counts.from_dict(counts.to_dict()).to_dict() == counts.to_dict()
    older = {k: v for k, v in counts.to_dict().items() if k != "documents_unread"}  # a marker from before
    assert Counts.from_dict(older).documents_unread == 0
    with pytest.raises(AccountingError, match="no input is in the error ledger"):
        Counts(documents_unread=3, inputs=1, inputs_parsed=1).check("unit", expected_documents_in=3)


def _emit_all(docs: list, output: TaskOutput) -> None:
    for d in docs:
        output.emit(d)


def test_readers_take_only_the_shards_that_the_markers_of_a_completed_stage_name(tmp_path):
    """The commit protocol without rename: what a killed task left under final names, and a shard
    no task of the plan wrote, are never read; a stage without stats.json is not read at all."""
    from curation.task_output import IncompleteStage, complete_shards
    from pipelines.executor import Executor
    from pipelines.runner import run_stage
    from pipelines.stages.inputs import stage_shards

    out = tmp_path / "stage"
    with Executor(scheduler="sync") as executor:
        run_stage("unit", out, [[doc(0, "a" * 300)], [doc(1, "b" * 300), doc(2, "c" * 300)]], _emit_all, executor, shard_bytes=400)
    named = complete_shards(out)
    assert [Path(p).name for p in named] == ["part-00000-0000.parquet", "part-00001-0000.parquet", "part-00001-0001.parquet"]
    assert read_marker(out, 1)["files"] == ["part-00001-0000.parquet", "part-00001-0001.parquet"]
    # Complete-looking files no marker names: a killed task's next shard, a task of another plan.
    shutil.copyfile(named[0], out / "part-00001-0002.parquet")
    shutil.copyfile(named[0], out / "part-00007-0000.parquet")
    assert stage_shards([out]) == named
    assert read_table(stage_shards([out]), DOCUMENT_SCHEMA)["id"].to_pylist() == ["test:0", "test:1", "test:2"]
    (out / "stats.json").unlink()
    with pytest.raises(IncompleteStage, match="has not completed"):
        stage_shards([out])
