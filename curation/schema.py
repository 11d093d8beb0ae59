"""The explicit pyarrow schemas every stage reads and writes (never inferred).

Three tables exist:
- documents: one row per training document;
- the ledger: documents that did not go on, with the stage and a stable reason code;
- the error ledger: inputs (files, URLs, records) that could not be read at all.
"""
from __future__ import annotations

import json
from typing import Any, Mapping

import pyarrow as pa

# Texts longer than this (UTF-8 bytes) are ledgered `too_large` by filter and dedup before any rule
# reads them: a 300 MB dump would cost gigabytes in the quality rules and the dedup passes.
MAX_TEXT_BYTES = 16 << 20

DOCUMENT_FIELDS = [
    pa.field("id", pa.string(), nullable=False),
    pa.field("source", pa.string(), nullable=False),
    pa.field("subset", pa.string(), nullable=False),
    pa.field("title", pa.string(), nullable=False),
    pa.field("text", pa.string(), nullable=False),
    pa.field("url", pa.string(), nullable=False),
    pa.field("pmid", pa.string()),
    pa.field("pmcid", pa.string()),
    pa.field("doi", pa.string()),
    pa.field("license", pa.string()),
    pa.field("date", pa.string()),
    pa.field("lang", pa.string()),
    pa.field("lang_score", pa.float64()),
    pa.field("meta", pa.string(), nullable=False),
    pa.field("provenance", pa.string(), nullable=False),
]
DOCUMENT_SCHEMA = pa.schema(DOCUMENT_FIELDS)

LEDGER_SCHEMA = pa.schema(
    DOCUMENT_FIELDS
    + [
        pa.field("stage", pa.string(), nullable=False),
        pa.field("reason", pa.string(), nullable=False),
        pa.field("detail", pa.string()),
    ]
)

ERROR_SCHEMA = pa.schema(
    [
        pa.field("input", pa.string(), nullable=False),
        pa.field("stage", pa.string(), nullable=False),
        pa.field("error", pa.string(), nullable=False),
        pa.field("record", pa.string()),
    ]
)

DOCUMENT_COLUMNS = [f.name for f in DOCUMENT_FIELDS]
_REQUIRED = {f.name for f in DOCUMENT_FIELDS if not f.nullable}
_NULLABLE_DEFAULTS = {f.name: None for f in DOCUMENT_FIELDS if f.nullable}


def make_document(**fields: Any) -> dict:
    """A document row with every column present; `meta` may be given as a dict."""
    unknown = set(fields) - set(DOCUMENT_COLUMNS)
    if unknown:
        raise ValueError(f"unknown document columns: {sorted(unknown)}")
    doc = dict(_NULLABLE_DEFAULTS)
    doc.update(fields)
    if isinstance(doc.get("meta"), Mapping):
        doc["meta"] = dump_meta(doc["meta"])
    doc.setdefault("meta", "{}")
    missing = [name for name in _REQUIRED if doc.get(name) is None]
    if missing:
        raise ValueError(f"document {fields.get('id')!r} lacks required columns: {sorted(missing)}")
    return doc


def ledger_row(doc: Mapping[str, Any], stage: str, reason: str, detail: str | None = None) -> dict:
    """A ledger row: the document as it was when dropped, plus why."""
    row = {name: doc.get(name) for name in DOCUMENT_COLUMNS}
    row.update(stage=stage, reason=reason, detail=detail)
    return row


def error_row(input: str, stage: str, error: BaseException | str, record: str | None = None) -> dict:
    """An error-ledger row with a one-line message."""
    if isinstance(error, BaseException):
        message = f"{type(error).__name__}: {error}"
    else:
        message = str(error)
    return {"input": input, "stage": stage, "error": " ".join(message.split())[:1000], "record": record}


_json_dump_meta = json.JSONEncoder(sort_keys=True, ensure_ascii=False, separators=(",", ":")).encode

try:
    import orjson
except ImportError:  # pragma: no cover - orjson is a dependency; json gives the same bytes
    orjson = None


def dump_meta(meta: Mapping[str, Any]) -> str:
    """Canonical JSON for the meta column: sorted keys so equal metadata gives equal bytes.

    orjson writes the same bytes as json here about ten times faster (checked over every code
    point in tests/sources/test_pubmed_parse.py); json takes what orjson refuses (a lone
    surrogate, a non-string key).
    """
    if orjson is not None:
        try:
            return orjson.dumps(meta, option=orjson.OPT_SORT_KEYS).decode()
        except (orjson.JSONEncodeError, TypeError):
            pass
    return _json_dump_meta(meta)
