"""URL origins and the allow-list entries that name them (scheme, host and port together).

Its own module, outside sources.http, so that code that only names hosts (a guideline site's
allow-list, read by `guidelines parse` too) does not import the HTTP client.
"""
from __future__ import annotations

from urllib.parse import urlsplit

DEFAULT_PORTS = {"http": 80, "https": 443}


def host_of(url: str) -> str:
    return (urlsplit(url).hostname or "").lower()


def origin(url: str) -> tuple[str, str, int | None]:
    """(scheme, host, port with the scheme's default filled in); ValueError for a port that is no port."""
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    return scheme, (parts.hostname or "").lower(), parts.port or DEFAULT_PORTS.get(scheme)


def host_entry(url: str) -> str:
    """The allow-list entry that admits `url`: `host`, or `host:port` off the scheme's default port."""
    scheme, host, port = origin(url)
    if ":" in host:
        host = f"[{host}]"  # IPv6
    return host if port == DEFAULT_PORTS.get(scheme) else f"{host}:{port}"
