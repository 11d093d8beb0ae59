"""The files of a resumable download: `dest.part` (bytes so far) and `dest.part.json` (its validator)."""
from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path

from sources.http.redaction import redact


def file_digests(path: Path) -> tuple[str, str, int]:
    """(md5, sha256, size) of a file, read once."""
    md5, sha256, size = hashlib.md5(), hashlib.sha256(), 0
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            md5.update(chunk)
            sha256.update(chunk)
            size += len(chunk)
    return md5.hexdigest(), sha256.hexdigest(), size


def content_range(value: str | None) -> tuple[int | None, int | None]:
    """(first byte, total length) of a Content-Range header such as `bytes 100-199/200` or `bytes */200`."""
    match = re.match(r"\s*bytes\s+(?:(\d+)-\d+|\*)/(\d+|\*)", value or "")
    if not match:
        return None, None
    first = int(match.group(1)) if match.group(1) else None
    total = int(match.group(2)) if match.group(2) != "*" else None
    return first, total


def write_validator(meta: Path, url: str, etag: str | None, last_modified: str | None) -> None:
    # If-Range needs a strong validator: a weak ETag (W/"...") falls back to Last-Modified.
    validator = etag if etag and not etag.startswith("W/") else last_modified
    meta.write_text(json.dumps({"url": redact(url), "validator": validator}), encoding="utf-8")


def read_validator(meta: Path, url: str) -> tuple[bool, str | None]:
    """(whether the .part file may belong to `url`, its If-Range validator if known).

    Without a readable sidecar the part is resumed without If-Range: the checksum still guards it.
    """
    try:
        data = json.loads(meta.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return True, None
    if data.get("url") != redact(url):
        return False, None
    return True, data.get("validator")


def remove(*paths: Path) -> None:
    for path in paths:
        path.unlink(missing_ok=True)
