"""The one reader for JSON that comes from outside: bounded in size and nesting depth.

Python's json parser recurses once per nesting level: `[[[[…` 200,000 deep is a RecursionError
(a traceback, not an error entry), and a value nested a few thousand deep breaks whatever walks it
next. Remote and stored JSON (metadata, inventory manifests, `pmc list` lines, tombstones) is
read through `loads`, which refuses both with an InputError naming the input.
"""
from __future__ import annotations

import json
import re
from typing import Any

from sources.errors import InputError

MAX_DEPTH = 64  # the bucket's JSON is two levels deep; an inventory manifest three
_STRING = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*"', re.S)  # brackets inside strings do not nest
_BRACKET = re.compile(rb"[\[\]{}]")


def nesting_depth(data: bytes, stop_after: int) -> int:
    """How deep arrays and objects nest in `data`, counting no further than `stop_after` + 1."""
    depth = deepest = 0
    for match in _BRACKET.finditer(_STRING.sub(b'""', data)):
        if match.group() in (b"[", b"{"):
            depth += 1
            if depth > deepest:
                deepest = depth
                if deepest > stop_after:
                    break
        else:
            depth -= 1
    return deepest


def loads(data: bytes | str, name: str, *, max_bytes: int | None = None, max_depth: int = MAX_DEPTH) -> Any:
    """The JSON value of `data`; InputError (one line, naming `name`) when it is larger than
    `max_bytes`, nested deeper than `max_depth`, or not JSON."""
    raw = data.encode("utf-8", errors="surrogatepass") if isinstance(data, str) else data
    if max_bytes is not None and len(raw) > max_bytes:
        raise InputError(f"{name}: JSON of {len(raw)} bytes, larger than {max_bytes}")
    if nesting_depth(raw, max_depth) > max_depth:
        raise InputError(f"{name}: JSON nested deeper than {max_depth} levels")
    try:
        return json.loads(raw)
    except (ValueError, RecursionError) as exc:  # UnicodeDecodeError is a ValueError
        raise InputError(f"{name}: not JSON ({exc})") from None


def load_object(data: bytes, name: str, **limits) -> dict:
    """`loads` of a JSON object; InputError for any other value."""
    value = loads(data, name, **limits)
    if not isinstance(value, dict):
        raise InputError(f"{name}: not a JSON object")
    return value
