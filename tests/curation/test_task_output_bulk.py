"""TaskOutput.emit_table / drop_table: the bulk path counts and writes exactly as emit / drop do."""
from pathlib import Path

import pyarrow as pa
import pytest

from curation.accounting import Counts
from curation.schema import DOCUMENT_SCHEMA, LEDGER_SCHEMA, make_document
from curation.shards import list_shards, read_table
from curation.task_output import TaskOutput, read_marker


def docs(n: int) -> list[dict]:
    return [
        make_document(
            id=f"test:{i}", source=("pubmed", "pmc")[i % 2], subset="abstracts", title=f"t{i}",
            text="é word " * (20 + 7 * i), url=f"https://x/{i}", pmid=str(i) if i % 3 else None,
            meta={"i": i}, provenance="unit",
        )
        for i in range(n)
    ]


def folder_bytes(folder):
    files = map(Path, list_shards(folder) + list_shards(folder / "ledger"))
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in files}


def test_bulk_and_row_by_row_write_the_same_shards_and_counts(tmp_path):
    rows = docs(40)
    keep = [d for i, d in enumerate(rows) if i % 4]
    gone = [d for i, d in enumerate(rows) if not i % 4]
    reasons = [f"near_duplicate_of:test:{i + 1}" if i % 8 else f"exact_duplicate_of:test:{i + 1}" for i in range(0, 40, 4)]
    details = [None if i % 8 else f"text_hash={i}" for i in range(0, 40, 4)]

    rowwise = TaskOutput(tmp_path / "rows", 2, "unit", shard_bytes=1500)  # several shards each
    for d in keep:
        rowwise.emit(d)
    for d, r, x in zip(gone, reasons, details):
        rowwise.drop(d, r, x)
    a = rowwise.close()

    bulk = TaskOutput(tmp_path / "bulk", 2, "unit", shard_bytes=1500)
    bulk.emit_table(pa.Table.from_pylist(keep, schema=DOCUMENT_SCHEMA))
    bulk.drop_table(pa.Table.from_pylist(gone, schema=DOCUMENT_SCHEMA), reasons, details)
    b = bulk.close()

    assert a["counts"] == b["counts"]
    one, two = folder_bytes(tmp_path / "rows"), folder_bytes(tmp_path / "bulk")
    assert len(one) > 4 and one == two
    counts = Counts.from_dict(read_marker(tmp_path / "bulk", 2)["counts"])
    counts.check("unit", expected_documents_in=40)
    assert counts.reasons == {"near_duplicate_of": 5, "exact_duplicate_of": 5}
    assert counts.by_source == {"pubmed": 10, "pmc": 20}
    ledger = read_table(list_shards(tmp_path / "bulk" / "ledger"), LEDGER_SCHEMA).to_pylist()
    assert [r["reason"] for r in ledger] == reasons and ledger[0]["stage"] == "unit" and ledger[1]["detail"] is None


def test_drop_table_needs_a_reason_per_row(tmp_path):
    out = TaskOutput(tmp_path, 0, "unit")
    table = pa.Table.from_pylist(docs(2), schema=DOCUMENT_SCHEMA)
    with pytest.raises(ValueError):
        out.drop_table(table, ["x"])
    with pytest.raises(ValueError):
        out.drop_table(table, ["x", None])
    out.emit_table(table.slice(0, 0))
    assert out.close()["counts"]["documents_in"] == 0
