"""Parquet shards that the project's writer never makes, for the tests of the shard readers."""
from __future__ import annotations

import pyarrow as pa

from curation.schema import DOCUMENT_SCHEMA


def unchecked_strings(values: list[bytes], type: pa.DataType = pa.string()) -> pa.Array:
    """A string array of exactly these bytes: built as binary and relabelled, which pyarrow does
    not check (nor does its Parquet writer), so it may hold bytes that are never UTF-8."""
    binary = pa.array(values, pa.binary())
    return pa.Array.from_buffers(type, len(binary), binary.buffers())


def with_invalid_utf8(rows: list[dict], bad_rows: set[int]) -> pa.Table:
    """The rows as a document table whose text, in `bad_rows`, holds a byte that is never UTF-8;
    written (zstd), its pages decompress to invalid UTF-8."""
    table = pa.Table.from_pylist(rows, schema=DOCUMENT_SCHEMA)
    texts = [r["text"].encode() if i not in bad_rows else r["text"].encode()[:40] + b"\xff\xfe" + r["text"].encode()[40:]
             for i, r in enumerate(rows)]
    text = unchecked_strings(texts, DOCUMENT_SCHEMA.field("text").type)
    return table.set_column(DOCUMENT_SCHEMA.get_field_index("text"), DOCUMENT_SCHEMA.field("text"), text)
