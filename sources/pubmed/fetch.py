"""PubMed bulk files: NCBI's baseline/ and updatefiles/ folders into a verified raw store.

Raw store layout (what `pubmed parse` reads):
    OUT/baseline/<name>.xml.gz (+ <name>.xml.gz.md5, as served)
    OUT/updatefiles/<name>.xml.gz (+ .md5)
    OUT/manifest.jsonl   one JSON object per remote file, sorted by url: url (redacted), path,
                         sha256, size, status, etag, last_modified, fetched_at, md5, md5_ok[, error]

A file reaches its final name only after its md5 matched (sources.http downloads to `.part` and
renames after the check), so a file whose checksum never matches is never where parse looks; it is
recorded in the manifest with `path: null, md5_ok: false` and retried on the next run. Files the
manifest already vouches for are skipped without any request, and their entries are kept as they
were, so re-running on an unchanged store rewrites identical bytes (DVC relies on that).
"""
from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable
from urllib.parse import urljoin, urlsplit

import lxml.etree
import lxml.html

from sources.errors import ChecksumError, FetchError, InputError
from sources.http import HttpClient, file_digests, get_logger, redact
from sources.raw_store import MANIFEST, read_manifest, utc_timestamp, write_atomic, write_manifest
from sources.store_lock import holds_store_lock

logger = get_logger("medcurate.pubmed.fetch")

DIRS = ("baseline", "updatefiles")
# Names we accept from an index page: a plain file name, so a hostile page cannot steer a write
# outside the store.
NAME_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*\.xml\.gz")
NUMBER_RE = re.compile(r"pubmed[a-z_]*?(\d+)n(\d+)")  # pubmed26n1334, also pubmedsample18n0001
MD5_RE = re.compile(r"MD5\s*\((?P<name>[^)]+)\)\s*=\s*(?P<hex>[0-9a-fA-F]{32})|(?P<hex2>[0-9a-fA-F]{32})\s+\*?(?P<name2>\S+)")


@dataclass(frozen=True)
class RemoteFile:
    folder: str
    name: str
    url: str
    md5_url: str | None  # None when the index page publishes no .md5 for it

    @property
    def path(self) -> str:
        return f"{self.folder}/{self.name}"


@dataclass
class FetchReport:
    manifest: Path
    fetched: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    failed: list[dict] = field(default_factory=list)  # {"path", "kind": "checksum" | "fetch", "reason"}

    @property
    def unreachable(self) -> list[dict]:
        return [failure for failure in self.failed if failure["kind"] == "fetch"]

    def summary(self) -> str:
        text = f"pubmed fetch: {len(self.fetched)} fetched, {len(self.skipped)} skipped, {len(self.failed)} failed"
        if self.failed:
            text += " (" + "; ".join(f"{f['path']}: {f['reason']}" for f in self.failed) + ")"
        return text

    def to_dict(self) -> dict:
        return {"fetched": self.fetched, "skipped": self.skipped, "failed": self.failed, "manifest": str(self.manifest)}


# --- the remote layout ------------------------------------------------------------------------------------
def sort_key(name: str) -> tuple:
    """pubmedYYnNNNN files in publication order (year, then number); anything else after them."""
    match = NUMBER_RE.search(name)
    return (int(match.group(1)), int(match.group(2)), name) if match else (math.inf, math.inf, name)


def index_links(content: bytes, page_url: str) -> set[str]:
    """File names an Apache-style index page links to inside its own folder (nothing else)."""
    parser = lxml.html.HTMLParser(no_network=True, remove_comments=True, remove_pis=True)
    try:
        root = lxml.html.document_fromstring(content, parser=parser)
    except (lxml.etree.ParserError, ValueError) as exc:
        raise InputError(f"{redact(page_url)}: not an index page ({exc})") from None
    page = urlsplit(page_url)
    folder = page.path if page.path.endswith("/") else page.path + "/"
    names = set()
    for anchor in root.iter("a"):
        href = (anchor.get("href") or "").strip()
        target = urlsplit(urljoin(page_url, href))
        if (target.scheme, target.netloc) != (page.scheme, page.netloc) or target.query or target.fragment:
            continue
        parent, _, name = target.path.rpartition("/")
        if parent + "/" == folder and name:
            names.add(name)
    return names


def list_folder(client: HttpClient, base_url: str, folder: str) -> list[RemoteFile]:
    page_url = base_url.rstrip("/") + f"/{folder}/"
    names = index_links(client.get(page_url).content, page_url)
    files = []
    for name in sorted((n for n in names if NAME_RE.fullmatch(n)), key=sort_key):
        md5_url = page_url + name + ".md5" if name + ".md5" in names else None
        files.append(RemoteFile(folder, name, page_url + name, md5_url))
    return files


def list_remote(client: HttpClient, base_url: str, dirs: Iterable[str] = DIRS, limit: int | None = None) -> list[RemoteFile]:
    """The files to fetch in the order they must be applied: baseline first, then updates by number.

    Folders are listed only while `limit` is not yet reached.
    """
    chosen: list[RemoteFile] = []
    for folder in dirs:
        if limit is not None and len(chosen) >= limit:
            break
        chosen.extend(list_folder(client, base_url, folder))
    return chosen if limit is None else chosen[:limit]


def parse_md5(text: str, name: str) -> str:
    """The hex digest of `name` in an NCBI `.md5` file (`MD5(name)= hex`; md5sum's form is accepted too)."""
    for line in text.splitlines():
        match = MD5_RE.search(line)
        if match and (match.group("name") or match.group("name2")) == name:
            return (match.group("hex") or match.group("hex2")).lower()
    raise InputError(f"no md5 for {name} in its .md5 file")


# --- the manifest ------------------------------------------------------------------------------------------
def store_path(url: str) -> str:
    """`folder/name` of a remote file's URL: the key of its entry, whatever the base URL was."""
    return "/".join(urlsplit(url).path.split("/")[-2:])


# --- one file ----------------------------------------------------------------------------------------------
class _Failed(Exception):
    def __init__(self, kind: str, reason: str):
        super().__init__(reason)
        self.kind, self.reason = kind, reason


def _already_verified(entry: dict | None, remote: RemoteFile, dest: Path) -> bool:
    """The manifest vouches for `dest`: verified against its md5 (or none is published) and the same size."""
    if not entry or entry.get("path") != remote.path or not dest.is_file():
        return False
    vouched = entry.get("md5_ok") is True or (entry.get("md5_ok") is None and remote.md5_url is None)
    return vouched and dest.stat().st_size == entry.get("size")


def _entry(remote: RemoteFile, **fields) -> dict:
    return {"url": redact(remote.url), "path": remote.path, "fetched_at": utc_timestamp(), **fields}


class _BulkFetcher:
    def __init__(self, client: HttpClient, out_dir: Path, checksum_attempts: int, require_md5: bool):
        self.client, self.out_dir = client, out_dir
        self.checksum_attempts, self.require_md5 = max(1, checksum_attempts), require_md5

    def published_md5(self, remote: RemoteFile) -> tuple[str | None, bytes | None]:
        if remote.md5_url is None:
            if self.require_md5:
                raise _Failed("checksum", "no .md5 published")
            return None, None
        try:
            served = self.client.get(remote.md5_url).content
            return parse_md5(served.decode("utf-8", errors="replace"), remote.name), served
        except (FetchError, InputError) as exc:
            raise _Failed("fetch", f".md5: {exc}") from None

    def fetch(self, remote: RemoteFile) -> dict:
        """Download one file and its .md5; the manifest entry of the verified result."""
        dest = self.out_dir / remote.folder / remote.name
        expected, served_md5 = self.published_md5(remote)
        if dest.exists():
            # Here but not vouched for (a run killed before its manifest write): check it locally.
            local_md5, local_sha, size = file_digests(dest)
            if expected and local_md5 == expected:
                self._keep_md5(dest, served_md5)
                return _entry(remote, sha256=local_sha, size=size, status=None, etag=None, last_modified=None,
                              md5=expected, md5_ok=True)
            dest.unlink()  # unverifiable or wrong: it must not stay where parse reads
        reason = ""
        for attempt in range(1, self.checksum_attempts + 1):
            try:
                result = self.client.download(remote.url, dest, md5=expected)
            except ChecksumError as exc:
                reason = "checksum never matched"
                logger.warning("%s: %s (attempt %d/%d)", remote.path, exc, attempt, self.checksum_attempts)
                continue
            except FetchError as exc:
                raise _Failed("fetch", str(exc)) from None
            self._keep_md5(dest, served_md5)
            return _entry(remote, sha256=result.sha256, size=result.size, status=result.status, etag=result.etag,
                          last_modified=result.last_modified, md5=expected, md5_ok=True if expected else None)
        raise _Failed("checksum", f"{reason} after {self.checksum_attempts} downloads")

    @staticmethod
    def _keep_md5(dest: Path, served: bytes | None) -> None:
        if served is not None:
            write_atomic(dest.with_name(dest.name + ".md5"), served)


@holds_store_lock("out_dir")
def fetch_bulk(
    base_url: str,
    out_dir: Path | str,
    *,
    limit: int | None = None,
    client: HttpClient | None = None,
    dirs: Iterable[str] = DIRS,
    checksum_attempts: int = 3,
    require_md5: bool = False,
) -> FetchReport:
    """Fetch the first `limit` bulk files (all when None) under `base_url` into the raw store `out_dir`.

    Per-file failures are recorded and reported, and the run goes on; failing to read an index page
    raises FetchError (or InputError for a page that is not an index).
    """
    out_dir = Path(out_dir)
    client = client or HttpClient()
    report = FetchReport(out_dir / MANIFEST)
    # keyed by store path, so that a new base URL (a mirror) still finds what is verified
    entries = {store_path(entry["url"]): entry for entry in read_manifest(report.manifest)}
    remote_files = list_remote(client, base_url, dirs, limit)
    fetcher = _BulkFetcher(client, out_dir, checksum_attempts, require_md5)
    logger.info("pubmed fetch: %d files listed under %s", len(remote_files), redact(base_url))
    for number, remote in enumerate(remote_files, 1):
        key = remote.path
        progress = f"[{number}/{len(remote_files)}] {remote.path}"
        if _already_verified(entries.get(key), remote, out_dir / remote.folder / remote.name):
            report.skipped.append(remote.path)
            logger.info("%s: already verified, skipped", progress)
            continue
        try:
            entries[key] = fetcher.fetch(remote)
        except _Failed as failure:
            if failure.kind == "checksum":  # a network failure keeps its .part, to resume next run
                _discard(out_dir / remote.folder / remote.name)
            entries[key] = _entry(remote, path=None, sha256=None, size=None, status=None, etag=None,
                                  last_modified=None, md5=None, md5_ok=False if failure.kind == "checksum" else None,
                                  error=failure.reason)
            report.failed.append({"path": remote.path, "kind": failure.kind, "reason": failure.reason})
            logger.error("%s: FAILED: %s", progress, failure.reason)
        else:
            report.fetched.append(remote.path)
            entry = entries[key]
            logger.info("%s: %d bytes (HTTP %s, md5 %s)", progress, entry["size"], entry["status"] or "-",
                        "ok" if entry["md5_ok"] else "not published")
        write_manifest(report.manifest, entries.values())  # after each file: a killed run loses nothing
    write_manifest(report.manifest, entries.values())
    logger.info("%s", report.summary())
    return report


def _discard(dest: Path) -> None:
    """Nothing of a file with bad bytes stays in the store: no data file, no partial download, no .md5."""
    for suffix in ("", ".part", ".part.json", ".md5"):
        dest.with_name(dest.name + suffix).unlink(missing_ok=True)
