"""The raw page store: exact bytes as served, content-addressed, with an append-only manifest.

Layout of a store folder OUT:
    OUT/pages/ab/<sha256>.<ext>   each distinct body once (ext from the Content-Type)
    OUT/manifest.jsonl            one JSON object per fetch outcome: url (redacted), role
                                  ("page", "index", "sitemap", "api"), status, content_type, sha256,
                                  size, path, etag, last_modified, fetched_at, meta, error, done

The manifest is appended to (flushed and fsynced per line), so a crawl killed at any point keeps
every outcome written before; a torn last line is ignored on reading. The latest entry of a URL
wins. `done` entries are never fetched again: stored pages, and permanent failures (a 404, a
refused redirect, an oversized body, a robots.txt disallow); transient failures (gave up after
retries) are retried by the next run.
"""
from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from curation.atomic import write_json_atomic
from sources.errors import InputError
from sources.raw_store import MANIFEST, append_manifest, read_manifest, utc_timestamp, write_atomic

if TYPE_CHECKING:
    from sources.guidelines.site import Site

SITE_FILE = "site.json"  # which site and base URL filled the store (parse needs both)
_EXTENSIONS = {
    "text/html": "html",
    "application/xhtml+xml": "html",
    "application/pdf": "pdf",
    "application/json": "json",
    "text/xml": "xml",
    "application/xml": "xml",
}


# What an adapter asks the fetcher to store, and what the parse reads each stored response as.
HTML_TYPES = ("text/html", "application/xhtml+xml")
PDF_TYPES = ("application/pdf",)
XML_TYPES = ("text/xml", "application/xml")
JSON_TYPES = ("application/json",)


def media_type(content_type: str | None) -> str:
    return (content_type or "").split(";", 1)[0].strip().lower()


def write_site_file(out: Path | str, site: Site) -> None:
    """OUT/site.json: the site and base URL that fill this store; a store holds one of each."""
    path = Path(out) / SITE_FILE
    data = {"site": site.name, "base_url": site.base_url}
    if path.is_file():
        old = json.loads(path.read_text(encoding="utf-8"))
        if old != data:  # one store, one site: mixing would give pages the wrong canonical URLs
            raise ValueError(f"{out} holds {old['site']} pages fetched from {old['base_url']}; "
                             f"use another folder for {site.name} from {site.base_url}")
        return
    write_json_atomic(path, data)


def read_site_file(root: Path | str) -> dict:
    path = Path(root) / SITE_FILE
    if not path.is_file():
        raise InputError(f"{root}: not a guideline raw store (no {SITE_FILE})")
    return json.loads(path.read_text(encoding="utf-8"))


@dataclass(frozen=True)
class StoredPage:
    url: str
    role: str
    status: int
    content_type: str
    sha256: str
    size: int
    path: Path
    fetched_at: str
    etag: str | None = None
    last_modified: str | None = None
    meta: dict = field(default_factory=dict, compare=False)

    def read(self) -> bytes:
        return self.path.read_bytes()

    @property
    def provenance(self) -> str:
        return json.dumps({"url": self.url, "sha256": self.sha256, "fetched_at": self.fetched_at}, sort_keys=True)


class PageStore:
    def __init__(self, root: Path | str):
        self.root = Path(root)
        self.manifest = self.root / MANIFEST
        self._latest: dict[str, dict] = {}
        # skip_unreadable: the torn last line of a killed run
        for entry in read_manifest(self.manifest, skip_unreadable=True):
            self._latest[entry["url"]] = entry

    # -- reading ---------------------------------------------------------------------------------------
    def entry(self, url: str) -> dict | None:
        return self._latest.get(url)

    def is_done(self, url: str) -> bool:
        entry = self._latest.get(url)
        return bool(entry and entry.get("done"))

    def page(self, url: str) -> StoredPage | None:
        entry = self._latest.get(url)
        if not entry or entry.get("error") or not entry.get("path"):
            return None
        return self._page(entry)

    def _page(self, entry: dict) -> StoredPage:
        return page_from_entry(self.root, entry)

    def page_entries(self) -> list[dict]:
        """Manifest entries of every stored response, sorted by URL (parse inputs, in a fixed order)."""
        return [e for _, e in sorted(self._latest.items()) if not e.get("error") and e.get("path")]

    def pages(self) -> list[StoredPage]:
        return [self._page(e) for e in self.page_entries()]

    def failures(self) -> list[dict]:
        return [e for _, e in sorted(self._latest.items()) if e.get("error")]

    def count(self, role: str) -> int:
        return sum(1 for e in self._latest.values() if e.get("role") == role and not e.get("error"))

    # -- writing ---------------------------------------------------------------------------------------
    def save(self, url: str, role: str, status: int, content_type: str, body: bytes, *,
             etag: str | None = None, last_modified: str | None = None, meta: dict | None = None) -> StoredPage:
        digest = hashlib.sha256(body).hexdigest()
        ext = _EXTENSIONS.get(media_type(content_type), "bin")
        rel = Path("pages") / digest[:2] / f"{digest}.{ext}"
        target = self.root / rel
        if not target.is_file():
            write_atomic(target, body)
        entry = {
            "url": url, "role": role, "status": status, "content_type": content_type, "sha256": digest,
            "size": len(body), "path": rel.as_posix(), "etag": etag, "last_modified": last_modified,
            "fetched_at": utc_timestamp(), "meta": meta or {}, "error": None, "done": True,
        }
        self._append(entry)
        return self._page(entry)

    def touch(self, page: StoredPage) -> StoredPage:
        """A conditional request answered 304: the stored bytes still hold; record when we checked."""
        entry = dict(self._latest[page.url], fetched_at=utc_timestamp())
        self._append(entry)
        return self._page(entry)

    def fail(self, url: str, role: str, kind: str, message: str, *, done: bool, meta: dict | None = None) -> None:
        self._append({
            "url": url, "role": role, "status": None, "content_type": None, "sha256": None, "size": 0,
            "path": None, "etag": None, "last_modified": None, "fetched_at": utc_timestamp(), "meta": meta or {},
            "error": {"kind": kind, "message": message}, "done": done,
        })

    def _append(self, entry: dict) -> None:
        append_manifest(self.manifest, entry)
        self._latest[entry["url"]] = entry


def page_from_entry(root: Path | str, entry: dict) -> StoredPage:
    """A StoredPage from a manifest entry (plain data a parse task can receive on any worker)."""
    return StoredPage(
        url=entry["url"], role=entry["role"], status=entry["status"], content_type=entry["content_type"],
        sha256=entry["sha256"], size=entry["size"], path=Path(root) / entry["path"], fetched_at=entry["fetched_at"],
        etag=entry.get("etag"), last_modified=entry.get("last_modified"), meta=entry.get("meta") or {},
    )
