"""Where a redirect may lead: the origin it started from, or a host (and port) on the allow-list.

An origin is scheme, host and port together: a redirect to the same host on another port, or from
http to https, leaves the origin and needs an allow-list entry. An entry is `host` (that host on
the default port of http or https) or `host:port`.
"""
from __future__ import annotations

from sources.errors import FetchError
from sources.origins import DEFAULT_PORTS, host_entry, origin
from sources.redaction import one_line, redact


def check_redirect(start: str, current: str, target: str, allowed: frozenset[str]) -> None:
    """Raise FetchError unless a redirect from `current` to `target` may be followed.

    `start` is the URL first asked for; its origin is always allowed, other origins only through
    `allowed` (entries as `host_entry` spells them).
    """
    problem = None
    try:
        new = origin(target)
        if new[0] not in DEFAULT_PORTS:
            problem = f"scheme {new[0]!r} not allowed"
        elif origin(current)[0] == "https" and new[0] == "http":
            problem = "downgrade from https to http"
        elif new != origin(start) and host_entry(target) not in allowed:
            problem = f"{new[0]}://{host_entry(target)} is another origin and not in the allowlist"
    except ValueError as exc:  # urlsplit's "Port out of range" and the like
        problem = f"unreadable target ({exc})"
    if problem:
        raise FetchError(one_line(f"redirect from {redact(current)} to {redact(target)} refused: {problem}"))
