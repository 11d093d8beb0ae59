"""Files that readers see whole or not at all: written under a temporary name, fsynced, renamed.

Every writer of the project's outputs and raw stores goes through these, so a run killed at any
point (even `kill -9`) never leaves half a file under a final name; a re-run rewrites it.
"""
from __future__ import annotations

import contextlib
import json
import os
from pathlib import Path
from typing import BinaryIO, Iterator

TMP_SUFFIX = ".tmp"  # a leftover of a killed write; stage runners remove these on resume


@contextlib.contextmanager
def atomic_file(path: Path) -> Iterator[BinaryIO]:
    """Open `path.tmp` for writing; once the body completes, fsync it and rename it to `path`.
    A body that raises leaves no file under `path` (and removes the temporary one)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + TMP_SUFFIX)
    try:
        with open(tmp, "wb") as handle:
            yield handle
            handle.flush()
            os.fsync(handle.fileno())
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    os.replace(tmp, path)


def write_bytes_atomic(path: Path, data: bytes) -> None:
    """Write `data` to `path` atomically."""
    with atomic_file(path) as handle:
        handle.write(data)


def write_json_atomic(path: Path, data: object) -> None:
    """Indented JSON with sorted keys and a final newline, written atomically."""
    text = json.dumps(data, indent=2, sort_keys=True, ensure_ascii=False) + "\n"
    write_bytes_atomic(path, text.encode("utf-8"))
