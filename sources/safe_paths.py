"""The one check for a relative path taken from data: an object key, a manifest's stored path.

A listing, a metadata JSON, an inventory manifest or a store's own manifest may be hostile or
tampered with; a key or path from any of them is checked where it is used, so that no request
leaves the configured bucket and no write or delete leaves the store.
"""
from __future__ import annotations

import re
from pathlib import Path

from sources.errors import HostileInputError

_CONTROL = re.compile(r"[\x00-\x1f\x7f\\]")  # control characters, and "\" (a separator elsewhere)


def check_relative(path: str, what: str = "path") -> str:
    """`path` when it is a plain relative path ("a/b/c"); HostileInputError for an absolute path,
    an empty, "." or ".." segment, a backslash or a control character."""
    if not isinstance(path, str) or not path or path.startswith("/") or _CONTROL.search(path) \
            or any(segment in ("", ".", "..") for segment in path.split("/")):
        raise HostileInputError(f"{what} {path!r} refused: not a plain relative path")
    return path


def inside(root: Path, relative: str, what: str = "store path") -> Path:
    """`root / relative` for a checked `relative`: lexically under `root`. The check is on the text
    only (no filesystem call: a sync passes it for every listed version); the folders a store
    creates for itself are trusted not to be symlinks."""
    return root / check_relative(relative, what)
