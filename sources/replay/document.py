"""Building replay documents: ids, cleaning shared by every replay reader, and the unreadable record."""
from __future__ import annotations

import hashlib
import re
import unicodedata
from dataclasses import dataclass
from typing import Any, Mapping

from curation.schema import make_document

SUBSET = "replay"
# Control characters other than newline and tab: wire-service framing (SOH, ETX, ...) and
# terminal noise, never training text.
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")
_BLANK_RUN = re.compile(r"\n{3,}")


@dataclass(frozen=True)
class BadRecord:
    """A record that could not be read; the rest of the input goes on (an error-ledger row)."""

    record: str
    error: str


def source_name(name: str) -> str:
    return f"replay/{name}"


def content_id(text: str) -> str:
    """A stable id for records that carry none of their own: a hash of their text."""
    return hashlib.blake2b(text.encode("utf-8"), digest_size=10).hexdigest()


def decode_text(raw: bytes, encodings: tuple[str, ...] = ("utf-8", "cp1252", "latin-1")) -> tuple[str, str]:
    """Bytes -> (text, encoding used). The first encoding that decodes strictly wins.

    latin-1 last because it never fails: every byte is a character, so nothing is lost silently.
    """
    for encoding in encodings:
        try:
            return raw.decode(encoding), encoding
        except UnicodeDecodeError:
            continue
    raise UnicodeDecodeError(encodings[-1], raw, 0, len(raw), "no encoding fits")


def clean_text(text: str) -> str:
    """NFC, no control characters, no trailing spaces, at most one blank line in a row."""
    text = unicodedata.normalize("NFC", text.replace("\r\n", "\n").replace("\r", "\n"))
    text = _CONTROL.sub("", text)
    text = "\n".join(line.rstrip() for line in text.split("\n"))
    return _BLANK_RUN.sub("\n\n", text).strip()


def replay_document(
    name: str,
    native_id: str | None,
    text: str,
    *,
    title: str = "",
    url: str = "",
    license: str | None = None,
    date: str | None = None,
    meta: Mapping[str, Any] | None = None,
    provenance: str,
) -> dict:
    """A schema document for source `replay/<name>`; the id is the native one, else a content hash.

    The title goes first in the text, as for every other source (MEDITRON does the same), as a
    paragraph of its own: it is a heading, not the first line of the body's first paragraph.
    """
    body = clean_text(text)
    title = clean_text(title)
    full = f"{title}\n\n{body}" if title and body and not body.startswith(title) else body
    doc_id = native_id if native_id not in (None, "") else content_id(full)
    return make_document(
        id=f"{source_name(name)}:{doc_id}",
        source=source_name(name),
        subset=SUBSET,
        title=title,
        text=full,
        url=url,
        license=license,
        date=date,
        meta=dict(meta or {}),
        provenance=provenance,
    )


@dataclass(frozen=True)
class Skipped:
    """A record that was read but is not a training document (e.g. a wire item with no body)."""

    doc: dict
    reason: str
    detail: str | None = None
