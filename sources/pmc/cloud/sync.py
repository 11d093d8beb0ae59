"""`pmc fetch` from the PMC Cloud Service bucket into a raw store, incrementally.

A sync enumerates metadata keys with their ETags (the newest daily inventory, or ListObjectsV2),
fetches the metadata JSON of every key whose ETag changed since the last sync, chooses one version
per article (versions.choose), fetches its `.xml` when its MD5 changed, and removes from the store
what is no longer chosen, leaving a tombstone that `pmc parse` puts in its ledger.

Raw store layout (folders split by PMC number // 10000, so no folder holds millions of files):
    OUT/articles/NNNN/PMC<n>.<v>.xml    article XML, exact bytes, MD5-verified
    OUT/metadata/NNNN/PMC<n>.<v>.json   metadata JSON, exact bytes, MD5-verified against its ETag
    OUT/inventory/<uuid>.csv.gz         shards of the snapshot used (inventory route)
    OUT/removed.jsonl                   tombstones: versions taken out of the store, why, when
    OUT/sync.json                       the last sync: route, snapshot, counts
    OUT/manifest.jsonl                  one entry per stored object: url, key, md5, sha256, size, paths

Downloads run on a bounded thread pool sharing one HttpClient (its per-host rate limit applies);
each lands under its final name only once verified, and each outcome is appended to the manifest
as it happens, so a killed sync loses nothing and the next one fetches only what is missing. The
manifest is rewritten sorted at the end.
"""
from __future__ import annotations

import json
from concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable, Iterator, TypeVar

from sources.errors import FetchError, InputError
from sources.http import HttpClient, get_logger, redact
from sources.pmc.cloud import inventory as inv
from sources.pmc.cloud.s3 import list_objects, md5_of_etag, object_url
from sources.pmc.cloud.versions import ArticleVersion, SelectionPolicy, key_version, parse_version, select
from sources.pmc.ids import normalize_pmcid
from sources.raw_store import MANIFEST, append_manifest, read_manifest, utc_timestamp, write_atomic, write_manifest

logger = get_logger("medcurate.pmc.cloud")

TOMBSTONES = "removed.jsonl"
SYNC_STATE = "sync.json"
ROUTES = ("inventory", "list")
T = TypeVar("T")
R = TypeVar("R")


@dataclass(frozen=True, slots=True)
class KeyState:
    """A metadata key as enumerated: which article version, and its ETag now."""

    number: int
    version: int
    key: str
    etag: str | None


@dataclass
class SyncReport:
    listed: int = 0  # versions enumerated
    selected: int = 0  # articles chosen
    fetched: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)  # already stored and verified
    failed: list[dict] = field(default_factory=list)  # {"id", "reason"}
    removed: list[dict] = field(default_factory=list)  # tombstones written by this sync
    metadata_fetched: int = 0
    metadata_reused: int = 0
    inventory: dict | None = None

    def summary(self) -> str:
        text = (f"pmc fetch: {self.listed} versions listed, {self.selected} articles selected; "
                f"metadata {self.metadata_fetched} fetched, {self.metadata_reused} unchanged; "
                f"xml {len(self.fetched)} fetched, {len(self.skipped)} skipped, {len(self.failed)} failed, "
                f"{len(self.removed)} removed")
        if self.failed:
            text += " (" + "; ".join(f"{f['id']}: {f['reason']}" for f in self.failed[:10]) + ")"
        return text


def shard_folder(number: int) -> str:
    return f"{number // 10000:04d}"


def bounded_map(work: Callable[[T], R], items: Iterable[T], workers: int) -> Iterator[R]:
    """`work` over items on `workers` threads, at most 2 x workers in flight, results as they finish."""
    with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
        pending: set = set()
        for item in items:
            pending.add(pool.submit(work, item))
            if len(pending) >= 2 * max(1, workers):
                done, pending = wait(pending, return_when=FIRST_COMPLETED)
                yield from (future.result() for future in done)
        while pending:
            done, pending = wait(pending, return_when=FIRST_COMPLETED)
            yield from (future.result() for future in done)


# --- enumeration -------------------------------------------------------------------------------------------
def enumerate_inventory(client: HttpClient, base_url: str, store: Path) -> tuple[list[KeyState], dict]:
    """Every metadata key of the newest usable inventory snapshot, and its provenance."""
    snapshot = inv.newest_inventory(client, base_url)
    logger.info("inventory %s: %d shard(s)", snapshot.snapshot, len(snapshot.shards))
    states = []
    for path in inv.download_shards(client, base_url, snapshot, store / "inventory"):
        for row in inv.read_shard(path, snapshot.columns):
            number, version = key_version(row.key)
            states.append(KeyState(number, version, row.key, row.etag))
    return states, snapshot.provenance()


def enumerate_listing(client: HttpClient, base_url: str, pmc_numbers: Iterable[int] | None) -> list[KeyState]:
    """Metadata keys by ListObjectsV2: the whole `metadata/` prefix, or `metadata/PMC<n>.` per article."""
    prefixes = ["metadata/"] if pmc_numbers is None else [f"metadata/PMC{n}." for n in sorted(set(pmc_numbers))]
    states = []
    for prefix in prefixes:
        for item in list_objects(client, base_url, prefix):
            where = key_version(item.key)
            if where is not None:
                states.append(KeyState(where[0], where[1], item.key, item.etag))
    return states


# --- the store ---------------------------------------------------------------------------------------------
class Store:
    """The raw store's manifest (one entry per object key) and its files."""

    def __init__(self, root: Path, base_url: str):
        self.root, self.base_url = Path(root), base_url
        self.manifest_path = self.root / MANIFEST
        self.entries: dict[str, dict] = {}
        for entry in read_manifest(self.manifest_path, skip_unreadable=True):
            if entry.get("key"):
                self.entries[entry["key"]] = entry  # appended lines: the last word wins

    def stored(self, key: str) -> dict | None:
        """The manifest entry of an object that is in the store, complete."""
        entry = self.entries.get(key)
        if entry and not entry.get("error") and entry.get("paths") and (self.root / entry["paths"][0]).is_file():
            return entry
        return None

    def record(self, key: str, entry: dict) -> None:
        self.entries[key] = {"key": key, "url": redact(object_url(self.base_url, key)), "fetched_at": utc_timestamp(), **entry}
        append_manifest(self.manifest_path, self.entries[key])

    def forget(self, key: str) -> dict | None:
        entry = self.entries.pop(key, None)
        if entry and entry.get("paths"):
            (self.root / entry["paths"][0]).unlink(missing_ok=True)
        return entry

    def finish(self) -> None:
        write_manifest(self.manifest_path, self.entries.values())

    def download(self, client: HttpClient, key: str, relative: str, md5: str | None, described: dict) -> dict:
        """Fetch one object to `relative` in the store; its manifest entry, or one with `error`."""
        try:
            result = client.download(object_url(self.base_url, key), self.root / relative, md5=md5)
        except FetchError as exc:  # ChecksumError included; a .part stays to be resumed
            return {**described, "paths": None, "error": str(exc)}
        return {**described, "paths": [relative], "md5": result.md5, "sha256": result.sha256,
                "size": result.size, "status": result.status}


def store_path(kind: str, number: int, version: int) -> str:
    """articles/NNNN/PMC<n>.<v>.xml or metadata/NNNN/PMC<n>.<v>.json: built from numbers alone."""
    suffix = ".xml" if kind == "articles" else ".json"
    return f"{kind}/{shard_folder(number)}/PMC{number}.{version}{suffix}"


# --- the sync ------------------------------------------------------------------------------------------------
def sync(
    client: HttpClient,
    base_url: str,
    out_dir: Path | str,
    policy: SelectionPolicy,
    *,
    route: str = "inventory",
    pmcids: Iterable[str] | None = None,
    limit: int | None = None,
    workers: int = 8,
) -> SyncReport:
    """Bring the raw store in line with the bucket (or with the given PMCIDs of it).

    With `limit`, only the first `limit` chosen articles (by PMCID) are fetched; stored articles
    beyond it stay. Removal applies to what the enumeration covered: the whole bucket, or the
    given PMCIDs.
    """
    store = Store(Path(out_dir), base_url)
    report = SyncReport()
    numbers = _numbers(pmcids)
    states = _enumerate(client, store, route, numbers, report)
    chosen, refused, unreadable = _choose(client, store, states, policy, workers, report)
    _fetch_articles(client, store, chosen[:limit] if limit is not None else chosen, workers, report)
    _remove_unchosen(store, states, numbers, chosen, refused, unreadable, report)
    store.finish()
    _write_state(store, route, report)
    logger.info("%s", report.summary())
    return report


def list_versions(
    client: HttpClient,
    base_url: str,
    store_dir: Path | str,
    policy: SelectionPolicy,
    *,
    route: str = "inventory",
    pmcids: Iterable[str] | None = None,
    workers: int = 8,
) -> tuple[list[ArticleVersion], SyncReport]:
    """The versions a sync would fetch, one per article; metadata is kept in `store_dir` for reuse."""
    store = Store(Path(store_dir), base_url)
    report = SyncReport()
    states = _enumerate(client, store, route, _numbers(pmcids), report)
    chosen, _, _ = _choose(client, store, states, policy, workers, report)
    store.finish()
    return chosen, report


def fetch_versions(client: HttpClient, base_url: str, out_dir: Path | str, versions: Iterable[ArticleVersion],
                   *, workers: int = 8) -> SyncReport:
    """Fetch exactly the given versions (a `pmc list` output); nothing is removed."""
    store = Store(Path(out_dir), base_url)
    report = SyncReport()
    chosen = sorted(versions, key=lambda v: (v.number, v.version))
    report.listed = report.selected = len(chosen)
    _fetch_articles(client, store, chosen, workers, report)
    store.finish()
    logger.info("%s", report.summary())
    return report


def _numbers(pmcids: Iterable[str] | None) -> set[int] | None:
    if pmcids is None:
        return None
    numbers = set()
    for pmcid in pmcids:
        number = normalize_pmcid(pmcid)
        if number is None:
            raise ValueError(f"not a PMCID: {pmcid!r}")
        numbers.add(int(number[3:]))
    return numbers


def _enumerate(client: HttpClient, store: Store, route: str, numbers: set[int] | None, report: SyncReport) -> list[KeyState]:
    if route not in ROUTES:
        raise ValueError(f"route must be one of {ROUTES}, not {route!r}")
    if route == "inventory":
        states, report.inventory = enumerate_inventory(client, store.base_url, store.root)
        if numbers is not None:
            states = [s for s in states if s.number in numbers]
    else:
        states = enumerate_listing(client, store.base_url, numbers)
    states.sort(key=lambda s: (s.number, s.version))
    report.listed = len(states)
    return states


def _choose(client: HttpClient, store: Store, states: list[KeyState], policy: SelectionPolicy, workers: int,
            report: SyncReport) -> tuple[list[ArticleVersion], dict[str, str], set[str]]:
    """(chosen versions by PMCID, {metadata key: why not}, metadata keys that could not be read)."""
    unreadable = _sync_metadata(client, store, states, workers, report)
    chosen, refused = [], {}
    for best, reasons in select(_versions(store, states, unreadable, report), policy):
        refused.update(reasons)
        if best is not None:
            chosen.append(best)
    report.selected = len(chosen)
    return chosen, refused, unreadable


def _sync_metadata(client: HttpClient, store: Store, states: list[KeyState], workers: int, report: SyncReport) -> set[str]:
    """Fetch the metadata JSONs whose ETag changed; the keys that could not be fetched."""
    todo = [s for s in states if not (s.etag and (store.stored(s.key) or {}).get("etag") == s.etag)]
    report.metadata_reused = len(states) - len(todo)
    failed = set()
    progress = _Progress(len(todo), "metadata")

    def fetch(state: KeyState) -> tuple[KeyState, dict]:
        described = {"kind": "metadata", "pmcid": f"PMC{state.number}", "version": state.version, "etag": state.etag}
        relative = store_path("metadata", state.number, state.version)
        return state, store.download(client, state.key, relative, md5_of_etag(state.etag), described)

    for state, entry in bounded_map(fetch, todo, workers):
        progress.step()
        if entry.get("error"):
            failed.add(state.key)
            report.failed.append({"id": state.key, "reason": entry["error"]})
            if state.key in store.entries:
                continue  # the older copy's entry stays; it is not used while the fetch fails
        else:
            report.metadata_fetched += 1
        store.record(state.key, entry)
    return failed


def _versions(store: Store, states: list[KeyState], unreadable: set[str], report: SyncReport) -> Iterator[ArticleVersion]:
    for state in states:
        if state.key in unreadable:
            continue
        try:
            data = (store.root / store_path("metadata", state.number, state.version)).read_bytes()
            yield parse_version(data, state.key, state.etag)
        except (OSError, InputError) as exc:
            unreadable.add(state.key)
            report.failed.append({"id": state.key, "reason": str(exc)})


def _fetch_articles(client: HttpClient, store: Store, chosen: list[ArticleVersion], workers: int, report: SyncReport) -> None:
    todo = []
    for version in chosen:
        entry = store.stored(version.xml_key)
        if entry and (version.xml_md5 is None or entry.get("md5") == version.xml_md5):
            report.skipped.append(version.name)
        else:
            todo.append(version)
    progress = _Progress(len(todo), "article xml")

    def fetch(version: ArticleVersion) -> tuple[ArticleVersion, dict]:
        described = {"kind": "article", "pmcid": version.pmcid, "version": version.version, "metadata_key": version.key,
                     "license": version.license, "license_code": version.license_code}
        relative = store_path("articles", version.number, version.version)
        return version, store.download(client, version.xml_key, relative, version.xml_md5, described)

    for version, entry in bounded_map(fetch, todo, workers):
        progress.step()
        if entry.get("error"):
            report.failed.append({"id": version.name, "reason": entry["error"]})
            if version.xml_key in store.entries:
                continue
        else:
            report.fetched.append(version.name)
        store.record(version.xml_key, entry)
    report.fetched.sort()


def _remove_unchosen(store: Store, states: list[KeyState], numbers: set[int] | None, chosen: list[ArticleVersion],
                     refused: dict[str, str], unreadable: set[str], report: SyncReport) -> None:
    """Take out of the store what this sync no longer chooses; tombstones say why."""
    listed = {s.key for s in states}
    keep = {v.xml_key for v in chosen}
    tombstones = {(t["pmcid"], t["version"]): t for t in _read_tombstones(store.root)}
    for key, entry in sorted(store.entries.items()):
        if numbers is not None and int(entry["pmcid"][3:]) not in numbers:
            continue  # outside this sync's scope (a --pmcids sync)
        if entry.get("kind") == "metadata" and key not in listed:
            store.forget(key)
        elif entry.get("kind") == "article" and key not in keep and entry["metadata_key"] not in unreadable:
            meta_key = entry["metadata_key"]
            reason = refused.get(meta_key) or ("gone_from_bucket" if meta_key not in listed else "not_selected")
            store.forget(key)
            if entry.get("error"):
                continue  # never stored: nothing to take back downstream
            tombstone = {"pmcid": entry["pmcid"], "version": entry["version"], "key": key, "reason": reason,
                         "license": entry.get("license_code"), "sha256": entry.get("sha256"), "removed_at": utc_timestamp()}
            tombstones[(entry["pmcid"], entry["version"])] = tombstone
            report.removed.append(tombstone)
    stored = {(e["pmcid"], e["version"]) for e in store.entries.values() if e.get("kind") == "article" and not e.get("error")}
    kept = [t for k, t in tombstones.items() if k not in stored]
    kept.sort(key=lambda t: (int(t["pmcid"][3:]), t["version"]))
    text = "".join(json.dumps(t, sort_keys=True) + "\n" for t in kept)
    path = store.root / TOMBSTONES  # written even when empty: `pmc parse` and DVC name it
    if not path.is_file() or path.read_text(encoding="utf-8") != text:
        write_atomic(path, text.encode("utf-8"))


def _read_tombstones(root: Path) -> list[dict]:
    path = root / TOMBSTONES
    if not path.is_file():
        return []
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def _write_state(store: Store, route: str, report: SyncReport) -> None:
    state = {"route": route, "base_url": redact(store.base_url), "inventory": report.inventory,
             "listed_versions": report.listed, "selected_articles": report.selected,
             "stored_articles": sum(1 for e in store.entries.values() if e.get("kind") == "article" and not e.get("error")),
             "removed_this_sync": len(report.removed), "failed_this_sync": len(report.failed), "synced_at": utc_timestamp()}
    write_atomic(store.root / SYNC_STATE, (json.dumps(state, indent=2, sort_keys=True) + "\n").encode("utf-8"))


class _Progress:
    """A log line about every 10% of a long loop."""

    def __init__(self, total: int, what: str):
        self.total, self.what, self.done, self._next = total, what, 0, 0.1

    def step(self) -> None:
        self.done += 1
        if self.total >= 20 and self.done / self.total >= self._next:
            logger.info("%s: %d/%d", self.what, self.done, self.total)
            self._next += 0.1
