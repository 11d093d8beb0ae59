"""Replay from tabular records: local JSONL (plain or gzip), local Parquet, and Hugging Face
`datasets` (`load_dataset` on local files or a local dataset folder, streamed, offline).

A record becomes a document through `Fields`, which names the columns holding the text and,
optionally, the id, title, URL, date and licence. Records without an id get a content hash.
Bad input is contained at the smallest unit: a JSONL line that is not JSON or not UTF-8 is one
BadRecord; a truncated gzip or a file that is not Parquet fails the input (InputError) after
whatever was readable before it.
"""
from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator, Mapping, Union

from sources.errors import InputError
from sources.replay.document import BadRecord, Skipped, replay_document
from sources.safe_io import DEFAULT_MAX_BYTES, open_input

Item = Union[dict, Skipped, BadRecord]
MAX_LINE_BYTES = 64 * 1024 * 1024  # one JSONL record; longer is a broken file, not a document


@dataclass(frozen=True)
class Fields:
    text: str = "text"
    id: str | None = None
    title: str | None = None
    url: str | None = None
    date: str | None = None
    license: str | None = None

    @classmethod
    def from_dict(cls, values: Mapping[str, Any] | None) -> "Fields":
        values = dict(values or {})
        unknown = set(values) - set(cls.__dataclass_fields__)
        if unknown:
            raise ValueError(f"unknown replay field names: {sorted(unknown)}")
        return cls(**values)


def _get(record: Mapping[str, Any], column: str | None) -> str | None:
    if column is None:
        return None
    value = record.get(column)
    return None if value is None else str(value)


def record_document(record: Mapping[str, Any], where: str, name: str, fields: Fields, license: str | None, provenance: dict) -> Item:
    """One record -> a document, a Skipped (no text) or a BadRecord (not a mapping, text not a string)."""
    if not isinstance(record, Mapping):
        return BadRecord(where, f"record is a {type(record).__name__}, not an object")
    text = record.get(fields.text)
    if text is not None and not isinstance(text, str):
        return BadRecord(where, f"field {fields.text!r} is a {type(text).__name__}, not a string")
    extra = {k: v for k, v in record.items() if k not in {fields.text, fields.id, fields.title, fields.url, fields.date, fields.license}}
    doc = replay_document(
        name,
        _get(record, fields.id),
        text or "",
        title=_get(record, fields.title) or "",
        url=_get(record, fields.url) or "",
        license=_get(record, fields.license) or license,
        date=_get(record, fields.date),
        # Small scalar extras only: the meta column is for facts, not a second copy of the data.
        meta={k: v for k, v in extra.items() if isinstance(v, (str, int, float, bool)) and len(str(v)) <= 200},
        provenance=json.dumps({**provenance, "record": where}, sort_keys=True),
    )
    if not (text or "").strip():
        return Skipped(doc, "empty_text", f"field {fields.text!r} is empty")
    return doc


def iter_jsonl(path: str | Path, name: str, fields: Fields, license: str | None = None, max_bytes: int = DEFAULT_MAX_BYTES) -> Iterator[Item]:
    """One record per line, UTF-8 JSON objects; blank lines are allowed."""
    path = Path(path)
    with open_input(path, max_bytes=max_bytes) as stream:
        for number, raw in enumerate(_lines(stream, path), start=1):
            if not raw.strip():
                continue
            where = f"line {number}"
            try:
                record = json.loads(raw.decode("utf-8"))
            except UnicodeDecodeError as error:
                yield BadRecord(where, f"not UTF-8 ({error.reason} at byte {error.start})")
                continue
            except json.JSONDecodeError as error:
                yield BadRecord(where, f"not JSON ({error.msg} at column {error.colno})")
                continue
            yield record_document(record, where, name, fields, license, {"file": str(path)})


def _lines(stream, path: Path) -> Iterator[bytes]:
    buffered = b""
    while chunk := stream.read(1 << 20):
        buffered += chunk
        *lines, buffered = buffered.split(b"\n")
        yield from lines
        if len(buffered) > MAX_LINE_BYTES:
            raise InputError(f"{path}: a line longer than {MAX_LINE_BYTES} bytes")
    if buffered:
        yield buffered


def iter_parquet(path: str | Path, name: str, fields: Fields, license: str | None = None) -> Iterator[Item]:
    """Rows of a local Parquet file, a row group at a time (bounded memory)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    path = Path(path)
    try:
        parquet = pq.ParquetFile(path)
        if fields.text not in parquet.schema_arrow.names:
            raise InputError(f"{path}: no column {fields.text!r} (columns: {parquet.schema_arrow.names})")
        row = 0
        for group in range(parquet.num_row_groups):
            table = parquet.read_row_group(group)
            table.validate(full=True)  # a string that is not UTF-8 (the reader does not check): ArrowInvalid
            for record in table.to_pylist():
                yield record_document(record, f"row {row}", name, fields, license, {"file": str(path)})
                row += 1
    except (pa.ArrowException, OSError) as error:
        raise InputError(f"{path}: not readable as Parquet ({error})") from None


def iter_hf_dataset(
    path: str,
    name: str,
    fields: Fields,
    license: str | None = None,
    data_files: str | list[str] | dict | None = None,
    split: str = "train",
    config: str | None = None,
    streaming: bool = True,
) -> Iterator[Item]:
    """Records of `datasets.load_dataset(path, config, data_files=..., split=..., streaming=...)`.

    `path` is a packaged builder ("json", "parquet", "text", ...) with local `data_files`, or a
    local dataset folder. The Hub is never contacted (offline mode is forced), so a missing local
    file is an error rather than a download; streaming keeps memory flat for large sources.
    """
    os.environ["HF_HUB_OFFLINE"] = "1"
    os.environ["HF_DATASETS_OFFLINE"] = "1"
    import datasets

    datasets.disable_progress_bars()
    where = f"{path}:{config or 'default'}:{split}"
    try:
        dataset = datasets.load_dataset(path, config, data_files=data_files, split=split, streaming=streaming)
        for index, record in enumerate(dataset):
            yield record_document(record, f"row {index}", name, fields, license, {"dataset": where})
    except (FileNotFoundError, ValueError, OSError, datasets.exceptions.DatasetGenerationError) as error:
        raise InputError(f"{where}: {type(error).__name__}: {error}") from None
