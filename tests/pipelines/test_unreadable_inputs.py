"""filter and dedup on input shards that cannot be read as documents: a corrupt data page (footer
intact), a foreign schema, nulls where the schema requires a value. Each goes to the error
ledger or the ledger with a one-line reason, the rest is processed, and the counts add up."""
import json
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from curation.schema import DOCUMENT_SCHEMA, ERROR_SCHEMA, LEDGER_SCHEMA
from curation.shards import list_shards, read_table, write_table_atomic
from pipelines.cli import app
from pipelines.executor import Executor
from pipelines.stages import dedup, filter as filter_stage
from hostile_parquet import with_invalid_utf8
from realdata import distinct_abstracts

ROWS_PER_GROUP = 1024  # curation.shards.DEFAULT_ROW_GROUP_ROWS: the project's writer


@pytest.fixture(scope="module")
def abstracts() -> list[dict]:
    return distinct_abstracts()[:3500]


def write(rows: list[dict], path: Path) -> Path:
    write_table_atomic(pa.Table.from_pylist(rows, schema=DOCUMENT_SCHEMA), path)
    return path


def corrupt_data_page(path: Path, row_group: int, column: str = "text") -> None:
    """Flip 16 bytes in the middle of the data pages of one column chunk; the footer stays valid."""
    meta = pq.ParquetFile(path).metadata
    chunk = meta.row_group(row_group).column(DOCUMENT_SCHEMA.get_field_index(column))
    end = (chunk.dictionary_page_offset or chunk.data_page_offset) + chunk.total_compressed_size
    middle = (chunk.data_page_offset + end) // 2
    data = bytearray(path.read_bytes())
    data[middle - 8 : middle + 8] = bytes(b ^ 0xFF for b in data[middle - 8 : middle + 8])
    path.write_bytes(bytes(data))
    # The premise: the footer reads, that row group does not decode, the others do.
    parquet = pq.ParquetFile(path)
    assert parquet.metadata.num_rows == meta.num_rows
    with pytest.raises((OSError, pa.ArrowException)):
        parquet.read_row_group(row_group)
    for other in set(range(meta.num_row_groups)) - {row_group}:
        parquet.read_row_group(other)


def folder(out: Path, sub: str = "") -> list[dict]:
    schema = {"": DOCUMENT_SCHEMA, "ledger": LEDGER_SCHEMA, "errors": ERROR_SCHEMA}[sub]
    return read_table(list_shards(out / sub if sub else out), schema).to_pylist()


def params_file(tmp_path: Path) -> Path:
    path = tmp_path / "params.yaml"
    path.write_text("filter:\n  steps: [min_length]\ndedup:\n  partitions: 4\n")
    return path


@pytest.mark.parametrize("command", ["filter", "dedup"])
def test_a_corrupt_data_page_sends_its_row_group_to_the_error_ledger(abstracts, tmp_path, command):
    rows = [dict(d) for d in abstracts[:3500]]
    # Behind the lost row group, an exact and a near copy of documents of the good shard: dedup
    # still finds them (its positions and signatures stay those of the file).
    after = 500 + 2 * ROWS_PER_GROUP
    rows[after + 10] = dict(rows[0], id="copy:0", provenance="copy:0")
    rows[after + 20] = dict(rows[1], id="near:1", provenance="near:1", pmid=None, text=rows[1]["text"].replace(".", " .", 1) + " Extra words here.")
    good = write(rows[:500], tmp_path / "in" / "a.parquet")
    bad = write(rows[500:3500], tmp_path / "in" / "b.parquet")
    assert pq.ParquetFile(bad).num_row_groups == 3
    corrupt_data_page(bad, 1)
    result = CliRunner().invoke(app, [command, str(tmp_path / "in"), "--out", str(tmp_path / "out"),
                                      "--scheduler", "sync", "--params", str(params_file(tmp_path))])
    assert result.exit_code == 0, result.output
    out = tmp_path / "out"
    errors = folder(out, "errors")
    assert len(errors) == 1 and errors[0]["input"] == str(bad)
    assert errors[0]["error"].startswith("row group 1 of 3 unreadable (1024 rows): ArrowInvalid")
    assert "\n" not in errors[0]["error"]
    # Row groups 0 and 2 of the bad shard went on like the good shard's documents.
    readable = rows[:500] + rows[500 : 500 + ROWS_PER_GROUP] + rows[after:3500]
    ledger = folder(out, "ledger")
    seen = [d["id"] for d in folder(out)] + [r["id"] for r in ledger]
    assert sorted(seen) == sorted(d["id"] for d in readable)
    if command == "dedup":
        reasons = {r["id"]: r["reason"] for r in ledger}  # the copies survive: lower ids among equals
        assert (reasons[rows[0]["id"]], reasons[rows[1]["id"]]) == ("exact_duplicate_of:copy:0", "near_duplicate_of:near:1")
    stats = json.loads((out / "stats.json").read_text())
    assert (stats["inputs"], stats["inputs_parsed"], stats["input_errors"]) == (2, 1, 1)
    assert stats["documents_in"] == len(readable) == stats["documents_out"] + stats["ledgered"]
    assert stats["documents_unread"] == ROWS_PER_GROUP
    assert good.is_file()


@pytest.mark.parametrize("command", ["filter", "dedup"])
def test_a_page_of_invalid_utf8_sends_its_row_group_to_the_error_ledger(abstracts, tmp_path, command):
    """filter exited 1 on it (UnicodeDecodeError) and dedup wrote the bytes on."""
    rows = [dict(d) for d in abstracts[:3000]]
    good = write(rows[:500], tmp_path / "in" / "a.parquet")
    bad = tmp_path / "in" / "b.parquet"
    write_table_atomic(with_invalid_utf8(rows[500:], {ROWS_PER_GROUP + 7}), bad)
    with pytest.raises(UnicodeDecodeError):  # the premise: the file reads, its text is not UTF-8
        pq.read_table(bad)["text"].to_pylist()
    stats = run_command(command, tmp_path / "in", tmp_path / "out", tmp_path)
    out = tmp_path / "out"
    errors = folder(out, "errors")
    assert [e["input"] for e in errors] == [str(bad)]
    assert errors[0]["error"].startswith("row group 1 of 3 unreadable (1024 rows): ArrowInvalid: ")
    assert "Invalid UTF8" in errors[0]["error"] and "\n" not in errors[0]["error"]
    readable = rows[:500 + ROWS_PER_GROUP] + rows[500 + 2 * ROWS_PER_GROUP:]
    seen = [d["id"] for d in folder(out)] + [r["id"] for r in folder(out, "ledger")]  # folder() decodes every text
    assert sorted(seen) == sorted(d["id"] for d in readable)
    assert (stats["inputs"], stats["inputs_parsed"], stats["input_errors"]) == (2, 1, 1)
    assert stats["documents_in"] == len(readable) and stats["documents_unread"] == ROWS_PER_GROUP
    assert good.is_file()


def run_command(command: str, inputs: Path, out: Path, tmp_path: Path):
    result = CliRunner().invoke(app, [command, str(inputs), "--out", str(out), "--scheduler", "sync", "--params", str(params_file(tmp_path))])
    assert result.exit_code == 0, result.output
    stats = json.loads((out / "stats.json").read_text())
    assert stats["documents_in"] == stats["documents_out"] + stats["ledgered"] + stats["record_errors"]
    assert stats["inputs"] == stats["inputs_parsed"] + stats["input_errors"]
    return stats


FOREIGN = {
    "missing text": (lambda t: t.drop_columns(["text"]), "wrong schema: missing column 'text'"),
    "id as integers": (
        lambda t: t.set_column(0, "id", pa.array(range(t.num_rows), pa.int64())),
        "wrong schema: column 'id' has type int64, expected string",
    ),
    "meta as a struct, lang missing": (
        lambda t: t.drop_columns(["lang"]).set_column(t.schema.get_field_index("meta") - 1, "meta", pa.array([{"a": 1}] * t.num_rows)),
        "wrong schema: missing column 'lang'; column 'meta' has type struct<a: int64>, expected string",
    ),
}


@pytest.mark.parametrize("command", ["filter", "dedup"])
@pytest.mark.parametrize("case", sorted(FOREIGN))
def test_a_shard_with_a_foreign_schema_goes_to_the_error_ledger_naming_the_column(abstracts, tmp_path, command, case):
    change, message = FOREIGN[case]
    write(abstracts[:300], tmp_path / "in" / "a.parquet")
    foreign = change(pa.Table.from_pylist(abstracts[300:400], schema=DOCUMENT_SCHEMA))
    pq.write_table(foreign, tmp_path / "in" / "b.parquet")  # another tool's writer
    stats = run_command(command, tmp_path / "in", tmp_path / "out", tmp_path)
    errors = folder(tmp_path / "out", "errors")
    assert [(e["input"], e["error"]) for e in errors] == [(str(tmp_path / "in" / "b.parquet"), message)]
    assert (stats["inputs"], stats["input_errors"], stats["documents_in"], stats["documents_unread"]) == (2, 1, 300, 100)


@pytest.mark.parametrize("command", ["filter", "dedup"])
def test_rows_with_a_null_id_or_text_are_ledgered_with_a_stable_reason(abstracts, tmp_path, command):
    rows = [dict(d) for d in abstracts[:300]]
    rows[3]["text"] = None
    rows[7]["id"] = None
    rows[9].update(id=None, text=None)  # the first column the schema requires decides
    rows[11]["source"] = None
    rows[20] = dict(rows[21], id="copy:21", provenance="copy")  # an exact duplicate among the valid rows
    lenient = pa.schema([f.with_nullable(True) for f in DOCUMENT_SCHEMA])
    (tmp_path / "in").mkdir()
    pq.write_table(pa.Table.from_pylist(rows, schema=lenient), tmp_path / "in" / "a.parquet")
    stats = run_command(command, tmp_path / "in", tmp_path / "out", tmp_path)
    ledger = {r["provenance"]: r for r in folder(tmp_path / "out", "ledger")}
    expected = {3: "null_text", 7: "null_id", 9: "null_id", 11: "null_source"}
    for i, reason in expected.items():
        row = ledger[rows[i]["provenance"]]
        assert (row["reason"], row["stage"]) == (reason, command)
        assert row["detail"] == f"row {i} of a.parquet"
    assert ledger[rows[7]["provenance"]]["id"] == "" and ledger[rows[3]["provenance"]]["text"] == ""
    assert ledger[rows[3]["provenance"]]["title"] == rows[3]["title"]
    if command == "dedup":
        # The valid rows are deduplicated as ever (copy:21 survives: the lower id among equals).
        assert {r["reason"] for r in ledger.values()} == set(expected.values()) | {"exact_duplicate_of:copy:21"}
    assert stats["reasons"]["null_id"] == 2 and stats["reasons"]["null_text"] == 1
    assert stats["documents_in"] == 300 and stats["input_errors"] == 0


@pytest.mark.parametrize("command", ["filter", "dedup"])
def test_a_text_above_max_text_bytes_is_ledgered_too_large_by_both_stages(abstracts, tmp_path, command):
    # 40,000 x "é" is 80,000 UTF-8 bytes: above the 60,000 cap although it is only 40,000 characters.
    huge = dict(abstracts[0], id="dump:1", text=abstracts[0]["text"] + " " + "é" * 40_000 + " " + "w " * 5_000)
    write(abstracts[1:300] + [huge], tmp_path / "in" / "a.parquet")
    params = params_file(tmp_path)
    params.write_text(params.read_text().replace("filter:\n", "filter:\n  max_text_bytes: 60000\n")
                      .replace("dedup:\n", "dedup:\n  max_text_bytes: 60000\n"))
    result = CliRunner().invoke(app, [command, str(tmp_path / "in"), "--out", str(tmp_path / "out"), "--scheduler", "sync",
                                      "--params", str(params)])
    assert result.exit_code == 0, result.output
    ledger = {r["id"]: r for r in folder(tmp_path / "out", "ledger")}
    size = len(huge["text"].encode())
    assert (ledger["dump:1"]["reason"], ledger["dump:1"]["detail"]) == ("too_large", f"{size} bytes of text, above {command}.max_text_bytes=60000")
    stats = json.loads((tmp_path / "out" / "stats.json").read_text())
    assert stats["documents_in"] == 300 == stats["documents_out"] + stats["ledgered"]


def test_word_counts_of_huge_texts_match_str_split():
    from curation.stats import LARGE_TEXT_CHARS, word_count

    text = ("a\u00a0b  c\td\u2003e\n" * (LARGE_TEXT_CHARS // 10 + 1))
    assert len(text) > LARGE_TEXT_CHARS and word_count(text) == len(text.split())
