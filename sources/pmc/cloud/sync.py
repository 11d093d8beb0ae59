"""`pmc fetch` from the PMC Cloud Service bucket into a raw store, incrementally.

A sync enumerates metadata keys with their ETags (the newest daily inventory, or ListObjectsV2),
fetches the metadata JSON of every key whose ETag changed since the last sync, chooses one version
per article (versions.choose), fetches its `.xml` when its MD5 changed, and removes from the store
what is no longer chosen, leaving a tombstone that `pmc parse` puts in its ledger.

Raw store layout (folders split by PMC number // 10000, so no folder holds millions of files):
    OUT/articles/NNNN/PMC<n>.<v>.xml    article XML, exact bytes, MD5-verified
    OUT/metadata/NNNN/PMC<n>.<v>.json   metadata JSON, exact bytes, MD5-verified against its ETag
    OUT/inventory/<uuid>.csv.gz         shards of the snapshot used (inventory route)
    OUT/articles/removed.jsonl          tombstones: versions taken out of articles/, why, when
    OUT/sync.json                       the last sync: route, snapshot, counts
    OUT/manifest.sqlite                 one row per stored object (manifest.py)
    OUT/.lock                           held (flock) while a sync or listing works on the store

Downloads run on a bounded thread pool sharing one HttpClient (its per-host rate limit applies);
each lands under its final name only once verified, and its outcome is committed to the manifest
as soon as it is known, so a killed sync loses nothing and the next one fetches only what is
missing. The listing, the choice and the fetches stream: memory does not grow with the bucket.
"""
from __future__ import annotations

import hashlib
import json
import time
from dataclasses import dataclass, field
from itertools import groupby
from pathlib import Path
from typing import Iterable, Iterator

from sources.errors import ChecksumError, FetchError, InputError, SourceError
from sources.http import HttpClient, get_logger, redact
from sources.pmc.cloud import inventory as inv
from sources.pmc.cloud.manifest import Manifest
from sources.pmc.cloud import LIVE_BUCKET_URL
from sources.pmc.cloud.limits import Limits
from sources.pmc.cloud import s3
from sources.pmc.cloud.s3 import list_objects, md5_of_etag, object_url
from sources.pmc.cloud.tombstones import check_tombstones, update_tombstones
from sources.pmc.cloud.versions import (
    ArticleVersion, SelectionPolicy, article_key, choose, key_version, metadata_key, parse_version,
)
from sources.pmc.ids import normalize_pmcid
from sources.pmc.settings import PmcParams
from sources.pool import bounded_map
from sources.raw_store import utc_timestamp, write_atomic
from sources.safe_paths import inside
from sources.store_lock import StoreLock

logger = get_logger("medcurate.pmc.cloud")

MANIFEST = "manifest.sqlite"
SYNC_STATE = "sync.json"
ROUTES = ("inventory", "list")
EXAMPLES = 1000


@dataclass
class SyncReport:
    """What a sync did. The counts are complete; `fetched` and `failed` keep the first EXAMPLES
    names (a first sync fetches millions: the manifest has every one)."""

    listed: int = 0  # versions enumerated
    selected: int = 0  # articles chosen
    fetched: list[str] = field(default_factory=list)  # versions whose XML was fetched
    fetched_count: int = 0
    skipped: int = 0  # chosen versions already stored and verified
    failed: list[dict] = field(default_factory=list)  # {"id", "reason"}
    failed_count: int = 0
    removed: list[dict] = field(default_factory=list)  # tombstones written by this sync
    metadata_fetched: int = 0
    metadata_reused: int = 0
    left_for_later: int = 0  # chosen, not fetched this sync (--limit, pmc.max_run_bytes)
    run_bytes_reached: bool = False
    inventory: dict | None = None

    def fetched_one(self, name: str) -> None:
        self.fetched_count += 1
        if len(self.fetched) < EXAMPLES:
            self.fetched.append(name)

    def failed_one(self, name: str, reason: str) -> None:
        self.failed_count += 1
        if len(self.failed) < EXAMPLES:
            self.failed.append({"id": name, "reason": reason})

    def summary(self) -> str:
        text = (f"pmc fetch: {self.listed} versions listed, {self.selected} articles selected; "
                f"metadata {self.metadata_fetched} fetched, {self.metadata_reused} unchanged; "
                f"xml {self.fetched_count} fetched, {self.skipped} skipped, {self.failed_count} failed, "
                f"{len(self.removed)} removed")
        if self.left_for_later:
            text += f"; {self.left_for_later} left for a later sync" + (" (pmc.max_run_bytes reached)" if self.run_bytes_reached else "")
        if self.failed:
            text += " (" + "; ".join(f"{f['id']}: {f['reason']}" for f in self.failed[:10]) + ")"
        return text


class MassRemovalError(SourceError):
    """A sync that would take more out of the store than its RemovalLimit allows."""


@dataclass(frozen=True)
class RemovalLimit:
    """How much one sync may remove before it refuses: an empty or truncated inventory looks just
    like a bucket that dropped everything. Up to `count` removals always pass; more pass while they
    are at most `share` of the stored articles; removing every stored article never passes."""

    share: float = PmcParams.max_removed_share
    count: int = PmcParams.max_removed

    def refusal(self, removing: int, stored: int) -> str | None:
        if removing == 0:
            return None
        if removing >= stored:
            return f"this sync would remove all {stored} stored articles"
        if removing > self.count and removing > self.share * stored:
            return (f"this sync would remove {removing} of {stored} stored articles, more than "
                    f"{self.count} (pmc.max_removed) and {self.share:.0%} (pmc.max_removed_share)")
        return None


def shard_folder(number: int) -> str:
    return f"{number // 10000:04d}"


def store_path(kind: str, number: int, version: int) -> str:
    """articles/NNNN/PMC<n>.<v>.xml or metadata/NNNN/PMC<n>.<v>.json: built from numbers alone."""
    suffix = ".xml" if kind == "articles" else ".json"
    return f"{kind}/{shard_folder(number)}/PMC{number}.{version}{suffix}"


# --- enumeration -------------------------------------------------------------------------------------------
def listing_keys(client: HttpClient, base_url: str, numbers: Iterable[int] | None,
                 limits: Limits) -> Iterator[tuple[str, str | None]]:
    """(key, ETag) by ListObjectsV2: the whole `metadata/` prefix, or `metadata/PMC<n>.` per article."""
    prefixes = ["metadata/"] if numbers is None else [f"metadata/PMC{n}." for n in sorted(set(numbers))]
    for prefix in prefixes:
        for item in list_objects(client, base_url, prefix, max_pages=limits.list_pages,
                                 max_page_bytes=limits.list_page_bytes):
            yield item.key, item.etag


# --- the store ---------------------------------------------------------------------------------------------
class Store:
    """A cloud raw store: its folder, the bucket it mirrors, its manifest."""

    def __init__(self, root: Path | str, base_url: str | None, limits: Limits = Limits()):
        self.root, self.base_url, self.limits = Path(root), base_url or LIVE_BUCKET_URL, limits
        self.lock = StoreLock(self.root)  # one writer: a second sync into this folder fails at once
        self.manifest: Manifest | None = None

    def __enter__(self) -> "Store":
        self.lock.__enter__()
        try:
            self.manifest = Manifest(self.root / MANIFEST)
        except BaseException:
            self.lock.__exit__(None, None, None)
            raise
        return self

    def __exit__(self, *exc) -> None:
        try:
            self.manifest.close()
        finally:
            self.lock.__exit__(*exc)

    def path(self, relative: str) -> Path:
        """A file of the store: every path read, written or deleted (a manifest row's included) goes
        through here, so a tampered manifest cannot reach outside the store."""
        return inside(self.root, relative)

    def has_file(self, row: dict) -> bool:
        return bool(row["path"]) and self.path(row["path"]).is_file()

    def stored(self, key: str) -> dict | None:
        """The manifest row of an object that is in the store, complete."""
        row = self.manifest.get(key)
        return row if row and not row["error"] and self.has_file(row) else None

    def record(self, entry: dict) -> None:
        self.manifest.put({"url": redact(object_url(self.base_url, entry["key"])), "fetched_at": utc_timestamp(), **entry})

    def forget(self, row: dict) -> None:
        if row.get("path"):
            self.path(row["path"]).unlink(missing_ok=True)
        self.manifest.delete(row["key"])

    def download(self, client: HttpClient, entry: dict, md5: str | None) -> dict:
        """Fetch an article's XML to its store path (resumable, MD5-verified); `entry` completed, or with `error`.

        An MD5 mismatch is tried once more from byte 0 at once: a `.part` left from an object
        since replaced resumes into a mix of old and new bytes, and should not cost a whole sync.
        """
        url, relative = object_url(self.base_url, entry["key"]), store_path("articles", entry["number"], entry["version"])
        target = self.path(relative)
        try:
            try:
                result = s3.download(client, url, target, md5=md5, max_bytes=self.limits.object_bytes)
            except ChecksumError:  # the mismatching .part is gone: this one starts afresh
                logger.warning("%s: md5 mismatch; fetching it once more from the start", entry["key"])
                result = s3.download(client, url, target, md5=md5, max_bytes=self.limits.object_bytes, resume=False)
        except FetchError as exc:  # a .part stays to be resumed
            return {**entry, "path": None, "error": str(exc)}
        return {**entry, "path": relative, "md5": result.md5, "sha256": result.sha256, "size": result.size,
                "status": result.status, "verified": int(md5 is not None), "error": None}

    def fetch_metadata(self, client: HttpClient, entry: dict) -> dict:
        """GET one metadata JSON (a few KB) and store it once its MD5 checks out.

        The inventory lags the bucket: a JSON updated since the snapshot does not match the listed
        ETag but does match the ETag S3 serves it with (its MD5). That one is kept; its row keeps
        the listed ETag and the MD5 of what was stored, so neither this snapshot nor the next one
        (which lists the new ETag) fetches it again (`is_current`). A JSON whose ETags are both
        multipart ("…-N": no MD5) is kept unverified, and its row says so (`verified` 0).
        """
        url = object_url(self.base_url, entry["key"])
        try:
            answer = s3.get(client, url, max_bytes=self.limits.metadata_bytes)
        except FetchError as exc:
            return {**entry, "path": None, "error": str(exc)}
        digest = hashlib.md5(answer.content).hexdigest()
        listed, served = md5_of_etag(entry["etag"]), md5_of_etag(answer.etag)
        if digest not in {listed, served} - {None} and (listed or served):
            return {**entry, "path": None, "error": f"GET {redact(url)}: md5 mismatch (listed {listed}, served {served}, got {digest})"}
        relative = store_path("metadata", entry["number"], entry["version"])
        write_atomic(self.path(relative), answer.content)
        return {**entry, "path": relative, "md5": digest, "sha256": hashlib.sha256(answer.content).hexdigest(),
                "size": len(answer.content), "status": answer.status, "verified": int(bool(listed or served)), "error": None}


def is_current(row, listed_etag: str | None) -> bool:
    """Whether stored metadata (its row's ETag as listed when fetched, and MD5) is what `listed_etag` names."""
    listed_md5 = md5_of_etag(listed_etag)
    return bool(listed_etag) and (row["etag"] == listed_etag or (listed_md5 is not None and row["md5"] == listed_md5))


# --- the sync ------------------------------------------------------------------------------------------------
class _Sync:
    """One sync (or listing) over a store: enumeration, metadata, choice, articles, removals."""

    def __init__(self, client: HttpClient, store: Store, route: str, pmcids: Iterable[str] | None, workers: int):
        if route not in ROUTES:
            raise ValueError(f"route must be one of {ROUTES}, not {route!r}")
        self.client, self.store, self.route, self.workers = client, store, route, workers
        self.limits = store.limits
        self.numbers = _numbers(pmcids)
        self.report = SyncReport()
        self.downloaded = 0  # bytes of article XML this sync, against limits.run_bytes
        self.article_failures: tuple[int, int, list[dict]] = (0, 0, [])  # failed, attempted, examples
        self.id = store.manifest.begin_sync(utc_timestamp(), route, self.numbers)

    def enumerate(self) -> None:
        if self.route == "list":
            self.report.listed = self.store.manifest.add_listed(
                self._versions(listing_keys(self.client, self.store.base_url, self.numbers, self.limits)))
            return
        problems: list[str] = []
        for snapshot in inv.readable_snapshots(self.client, self.store.base_url, problems):
            try:
                paths = inv.download_shards(self.client, self.store.base_url, snapshot, self.store.root / "inventory")
                rows = ((row.key, row.etag) for path in paths for row in inv.read_shard(path, snapshot.columns))
                self.report.listed = self.store.manifest.add_listed(self._versions(rows))
            except (FetchError, InputError) as exc:  # a damaged shard: the snapshot before it
                logger.warning("inventory %s not usable (%s); trying the one before", snapshot.snapshot, exc)
                problems.append(f"{snapshot.snapshot}: {exc}")
                self.report = SyncReport()  # what the failed snapshot's rows reported goes with it
                continue
            logger.info("inventory %s: %d shard(s)", snapshot.snapshot, len(snapshot.shards))
            self.report.inventory = snapshot.provenance()
            return
        raise FetchError("no usable inventory snapshot: " + "; ".join(problems))

    def _versions(self, keys: Iterable[tuple[str, str | None]]) -> Iterator[tuple[int, int, str | None]]:
        """(number, version, ETag) of each metadata key in this sync's scope; a key whose numbers are
        out of range is a failure of this sync, and the enumeration goes on."""
        for key, etag in keys:
            try:
                where = key_version(key)
            except InputError as exc:
                self.report.failed_one(key[:100], str(exc))
                continue
            if where is not None and (self.numbers is None or where[0] in self.numbers):
                yield (*where, etag)

    def sync_metadata(self) -> None:
        """Fetch every listed metadata JSON whose ETag changed (or whose file is missing)."""
        def todo() -> Iterator[dict]:
            for row in self.store.manifest.listed_with_metadata():
                if is_current(row, row["listed_etag"]) and not row["error"] and self.store.has_file(row):
                    self.report.metadata_reused += 1
                    continue
                yield {"key": metadata_key(row["number"], row["version"]), "kind": "metadata", "number": row["number"],
                       "version": row["version"], "etag": row["listed_etag"], "sync": self.id}

        progress, failures = _Progress("metadata fetches"), _Failures()
        for entry in bounded_map(lambda entry: self.store.fetch_metadata(self.client, entry), todo(), self.workers):
            progress.step()
            if entry["error"]:
                self.store.manifest.set_unreadable(entry["number"], entry["version"])
                self.report.failed_one(entry["key"], entry["error"])
                failures.add(entry["key"], entry["error"])
                if self.store.manifest.get(entry["key"]):
                    continue  # the older copy's row stays; it is not used while the fetch fails
            else:
                self.report.metadata_fetched += 1
            self.store.record(entry)
        self.limits.check_failures("metadata fetches", failures.count, progress.done, failures.examples)

    def chosen(self, policy: SelectionPolicy) -> Iterator[ArticleVersion]:
        """The version to use of each listed article, in PMCID order; refusals noted in the manifest."""
        rows = self.store.manifest.listed_with_metadata()
        for number, group in groupby(rows, key=lambda row: row["number"]):
            versions = [v for v in (self._read_version(row) for row in group) if v is not None]
            if not versions:
                continue
            best, refused = choose(versions, policy)
            self.store.manifest.refuse((v.number, v.version, refused[v.key]) for v in versions if v.key in refused)
            if best is not None:
                self.report.selected += 1
                yield best

    def _read_version(self, row) -> ArticleVersion | None:
        number, version = row["number"], row["version"]
        if row["unreadable"]:
            return None
        try:
            data = self.store.path(store_path("metadata", number, version)).read_bytes()
            return parse_version(data, metadata_key(number, version), row["listed_etag"])
        except (OSError, InputError) as exc:
            self.store.manifest.set_unreadable(number, version)
            self.report.failed_one(metadata_key(number, version), str(exc))
            return None

    def fetch_articles(self, versions: Iterable[ArticleVersion], limit: int | None = None) -> None:
        """Fetch the XML of each version not stored with its MD5; every version given counts as chosen."""
        def todo() -> Iterator[ArticleVersion]:
            for count, version in enumerate(versions):
                stored = self.store.stored(version.xml_key)
                if stored and (version.xml_md5 is None or stored["md5"] == version.xml_md5):
                    self.store.manifest.mark(version.xml_key, self.id)
                    self.report.skipped += 1
                elif (limit is None or count < limit) and not self._over_run_bytes():
                    yield version
                else:
                    self.store.manifest.mark(version.xml_key, self.id)  # chosen, left for a later sync
                    self.report.left_for_later += 1

        def fetch(version: ArticleVersion) -> tuple[ArticleVersion, dict]:
            entry = {"key": version.xml_key, "kind": "article", "number": version.number, "version": version.version,
                     "license": version.license, "license_code": version.license_code, "sync": self.id}
            return version, self.store.download(self.client, entry, version.xml_md5)

        progress, failures = _Progress("article fetches"), _Failures()
        for version, entry in bounded_map(fetch, todo(), self.workers):
            progress.step()
            if entry["error"]:
                self.report.failed_one(version.name, entry["error"])
                failures.add(version.name, entry["error"])
                if self.store.manifest.get(version.xml_key):
                    self.store.manifest.mark(version.xml_key, self.id)  # the older copy stays
                    continue
            else:
                self.report.fetched_one(version.name)
                self.downloaded += entry["size"]
            self.store.record(entry)
        self.report.fetched.sort()
        self.article_failures = (failures.count, progress.done, failures.examples)

    def _over_run_bytes(self) -> bool:
        """Whether this sync has downloaded its `run_bytes` (checked before each download starts)."""
        over = self.limits.run_bytes is not None and self.downloaded >= self.limits.run_bytes
        if over and not self.report.run_bytes_reached:
            logger.warning("pmc.max_run_bytes (%d) reached: the other chosen articles are left for a later sync",
                           self.limits.run_bytes)
        self.report.run_bytes_reached |= over
        return over

    def remove_unchosen(self, limit: RemovalLimit | None) -> None:
        """Take out of the store what this sync did not choose; tombstones say why.

        Nothing at all is removed when the removals exceed `limit` (None: no limit).
        """
        manifest = self.store.manifest
        # Its metadata could not be read this time: what is stored stays.
        unchosen = [row for row in manifest.unchosen_articles(self.id) if not row["unreadable"]]
        removing = sum(1 for row in unchosen if not row["error"])
        refusal = limit.refusal(removing, manifest.count("article")) if limit else None
        if refusal:
            raise MassRemovalError(f"{refusal}; nothing was removed (if the bucket really dropped them, "
                                   "run again with --allow-mass-removal)")
        for row in manifest.unlisted_metadata():
            self.store.forget(row)
        check_tombstones(self.store.root)  # a damaged file stops the sync before it removes anything
        tombstones = []
        for row in unchosen:
            self.store.forget(row)
            if row["error"]:
                continue  # never stored: nothing to take back downstream
            reason = row["refused"] or ("not_selected" if row["listed"] else "gone_from_bucket")
            stone = {"pmcid": f"PMC{row['number']}", "version": row["version"], "key": row["key"], "reason": reason,
                     "license": row["license_code"], "sha256": row["sha256"], "removed_at": utc_timestamp()}
            tombstones.append(stone)
            self.report.removed.append(stone)
        update_tombstones(self.store.root, tombstones,
                          lambda stone: not self.store.stored(article_key(int(stone["pmcid"][3:]), stone["version"])))

    def write_state(self) -> None:
        state = {"route": self.route, "base_url": redact(self.store.base_url), "inventory": self.report.inventory,
                 "listed_versions": self.report.listed, "selected_articles": self.report.selected,
                 "stored_articles": self.store.manifest.count("article"), "removed_this_sync": len(self.report.removed),
                 "failed_this_sync": self.report.failed_count, "synced_at": utc_timestamp()}
        write_atomic(self.store.root / SYNC_STATE, (json.dumps(state, indent=2, sort_keys=True) + "\n").encode("utf-8"))


def sync(
    client: HttpClient,
    base_url: str,
    out_dir: Path | str,
    policy: SelectionPolicy,
    *,
    route: str = "inventory",
    pmcids: Iterable[str] | None = None,
    limit: int | None = None,
    workers: int = PmcParams.concurrency,
    removal_limit: RemovalLimit | None = RemovalLimit(),
    limits: Limits = Limits(),
) -> SyncReport:
    """Bring the raw store in line with the bucket (or with the given PMCIDs of it).

    With `limit`, only the first `limit` chosen articles (by PMCID) are fetched; the others stay
    chosen and what of them is stored is not removed. Removal applies to what the enumeration covered:
    the whole bucket, or the given PMCIDs, and stops at `removal_limit` (MassRemovalError; None: none).
    `limits` caps what is read from the bucket (sources/pmc/cloud/limits.py).
    """
    with Store(out_dir, base_url, limits) as store:
        run = _Sync(client, store, route, pmcids, workers)
        run.enumerate()
        run.sync_metadata()
        run.fetch_articles(run.chosen(policy), limit)
        run.remove_unchosen(removal_limit)
        run.write_state()
    logger.info("%s", run.report.summary())
    limits.check_failures("article fetches", *run.article_failures)  # the store is consistent; the run failed
    return run.report


def list_versions(
    client: HttpClient,
    base_url: str,
    store_dir: Path | str,
    policy: SelectionPolicy,
    *,
    route: str = "inventory",
    pmcids: Iterable[str] | None = None,
    workers: int = PmcParams.concurrency,
    limits: Limits = Limits(),
) -> tuple[list[ArticleVersion], SyncReport]:
    """The versions a sync would fetch, one per article; metadata is kept in `store_dir` for reuse."""
    with Store(store_dir, base_url, limits) as store:
        run = _Sync(client, store, route, pmcids, workers)
        run.enumerate()
        run.sync_metadata()
        chosen = list(run.chosen(policy))
    return chosen, run.report


def fetch_versions(client: HttpClient, base_url: str, out_dir: Path | str, versions: Iterable[ArticleVersion],
                   *, workers: int = PmcParams.concurrency, limits: Limits = Limits()) -> SyncReport:
    """Fetch exactly the given versions (a `pmc list` output); nothing is removed."""
    chosen = sorted(versions, key=lambda v: (v.number, v.version))
    with Store(out_dir, base_url, limits) as store:
        run = _Sync(client, store, "list", [v.pmcid for v in chosen], workers)
        run.report.listed = run.report.selected = len(chosen)
        run.fetch_articles(chosen)
    logger.info("%s", run.report.summary())
    limits.check_failures("article fetches", *run.article_failures)
    return run.report


def _numbers(pmcids: Iterable[str] | None) -> set[int] | None:
    if pmcids is None:
        return None
    numbers = set()
    for pmcid in pmcids:
        normal = normalize_pmcid(pmcid)
        if normal is None:
            raise ValueError(f"not a PMCID: {pmcid!r}")
        numbers.add(int(normal[3:]))
    return numbers


class _Failures:
    """The failures of one pass: how many, and the first few (a pass may fail millions of times)."""

    def __init__(self, keep: int = 3):
        self.count, self.examples, self.keep = 0, [], keep

    def add(self, name: str, reason: str) -> None:
        self.count += 1
        if len(self.examples) < self.keep:
            self.examples.append({"id": name, "reason": reason})


class _Progress:
    """A log line every `every` items of a long loop, with the elapsed time."""

    def __init__(self, what: str, every: int = 1000):
        self.what, self.every, self.done, self.start = what, every, 0, time.monotonic()

    def step(self) -> None:
        self.done += 1
        if self.done % self.every == 0:
            logger.info("%s: %d done (%.0fs)", self.what, self.done, time.monotonic() - self.start)
