"""What every raw store shares: atomic file writes and the JSONL manifest.

A raw store (DESIGN.md "Stages") is a folder of exact bytes as served plus `manifest.jsonl`, one
JSON object a line, keys sorted, non-ASCII kept as UTF-8. Sources keep their manifest in one of two
ways:

- rewritten whole and sorted by url (`write_manifest`: pubmed bulk files, E-utilities, PMC). Content
  equal to what is on disk is not rewritten at all, so re-running on an unchanged store changes no
  byte (DVC relies on that);
- appended to, one fsynced line per outcome (`append_manifest`: guideline crawls), so a crawl killed
  at any point keeps every outcome written before; `read_manifest(..., skip_unreadable=True)` then
  passes over the torn last line.

The PMC cloud store (sources/pmc/cloud) keeps its manifest in SQLite instead: it holds two rows per
version of a ~9 M-version bucket, too many to rewrite or hold in memory.

Files reach their final name only complete (`write_atomic`), so a killed run never leaves half a
file where parse reads. Both writers mask registered secrets (sources.redaction): an entry's error
may quote a remote that echoed the API key.
"""
from __future__ import annotations

import json
import os
from collections.abc import Iterable
from datetime import UTC, datetime
from pathlib import Path

from curation.atomic import write_bytes_atomic as write_atomic
from sources.redaction import redact_values

__all__ = ["MANIFEST", "append_manifest", "read_manifest", "utc_timestamp", "write_atomic", "write_manifest"]

MANIFEST = "manifest.jsonl"


def utc_timestamp() -> str:
    """Now, as a manifest's `fetched_at`: UTC to the second, e.g. 2024-05-01T12:00:00Z."""
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _line(entry: dict) -> str:
    # An entry may quote a remote's answer (an error reason), and a remote may echo the API key.
    return redact_values(json.dumps(entry, sort_keys=True, ensure_ascii=False)) + "\n"


def read_manifest(path: Path, *, skip_unreadable: bool = False) -> list[dict]:
    """The entries of a JSONL manifest, in file order (none when it does not exist yet).

    Blank lines are ignored. A line that is not JSON raises ValueError, unless `skip_unreadable`,
    which also passes over anything but an object with a `url` (an appended manifest's torn last line).
    """
    if not path.is_file():
        return []
    entries = []
    with open(path, encoding="utf-8") as handle:
        for line in handle:
            if not line.strip():
                continue
            try:
                entry = json.loads(line)
            except ValueError:
                if skip_unreadable:
                    continue
                raise
            if skip_unreadable and not (isinstance(entry, dict) and "url" in entry):
                continue
            entries.append(entry)
    return entries


def write_manifest(path: Path, entries: Iterable[dict]) -> None:
    """Rewrite a manifest atomically, sorted by url; identical content is not rewritten at all."""
    text = "".join(_line(entry) for entry in sorted(entries, key=lambda entry: entry["url"]))
    if path.is_file() and path.read_text(encoding="utf-8") == text:
        return
    write_atomic(path, text.encode("utf-8"))


def append_manifest(path: Path, entry: dict) -> None:
    """Add one entry at the end of a manifest, flushed and fsynced before returning."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a", encoding="utf-8") as handle:
        handle.write(_line(entry))
        handle.flush()
        os.fsync(handle.fileno())
