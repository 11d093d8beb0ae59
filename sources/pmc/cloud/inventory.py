"""The bucket's daily S3 Inventory: every metadata JSON key with its ETag, without listing 9M keys.

Layout (README §4.3/§5.2 of the bucket): under `inventory-reports/pmc-oa-opendata/metadata/` one
folder per snapshot (`2026-09-01T01-00Z/manifest.json`) and the shards it names
(`…/metadata/data/<uuid>.csv.gz`). A snapshot's manifest is written last, so a snapshot without one
is still being written and the one before it is used; so is a snapshot with a damaged shard (the
sync falls back). Shards are verified against the manifest's MD5s before a row is read; rows follow
the manifest's `fileSchema` (Bucket, Key, LastModifiedDate, ETag in practice) and only keys under
`metadata/` are kept.
"""
from __future__ import annotations

import csv
import hashlib
import io
import itertools
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

from sources.errors import FetchError, InputError
from sources.http import HttpClient, file_digests, get_logger
from sources.pmc.cloud import s3
from sources.pmc.cloud.s3 import list_folders, md5_of_etag, object_url
from sources.safe_io import open_input
from sources.safe_json import load_object
from sources.safe_paths import check_relative, inside

logger = get_logger("medcurate.pmc.inventory")

INVENTORY_PREFIX = "inventory-reports/pmc-oa-opendata/metadata/"
METADATA_PREFIX = "metadata/"  # the rows wanted: the metadata JSON keys
MAX_LINE = 64 << 10  # bytes in one inventory line (a row is ~150)
_SNAPSHOT = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}-\d{2}Z$")
_SHARD_NAME = re.compile(r"^[\w.-]+\.csv\.gz$")
# Column names as the manifest's fileSchema spells them -> ours.
_COLUMNS = {"key": "key", "etag": "etag", "lastmodifieddate": "last_modified", "lastmodified": "last_modified"}


@dataclass(frozen=True)
class InventoryRow:
    key: str  # metadata/PMC<n>.<v>.json
    etag: str | None
    last_modified: str | None


@dataclass(frozen=True)
class ShardFile:
    key: str
    md5: str | None


@dataclass(frozen=True)
class Inventory:
    snapshot: str  # e.g. 2026-09-01T01-00Z
    manifest_sha256: str
    columns: tuple[str, ...]  # our names for the CSV columns, in file order ("" for one we ignore)
    shards: tuple[ShardFile, ...]

    def provenance(self) -> dict:
        return {"snapshot": self.snapshot, "manifest_sha256": self.manifest_sha256, "shards": len(self.shards)}


def parse_manifest(data: bytes, snapshot: str, name: str = "manifest.json") -> Inventory:
    manifest = load_object(data, name)
    if str(manifest.get("fileFormat", "")).upper() != "CSV":
        raise InputError(f"{name}: inventory format {manifest.get('fileFormat')!r}, only CSV is read")
    schema = [c.strip().replace(" ", "").lower() for c in str(manifest.get("fileSchema", "")).split(",")]
    columns = tuple(_COLUMNS.get(c, "") for c in schema)
    if "key" not in columns or "etag" not in columns:
        raise InputError(f"{name}: fileSchema {manifest.get('fileSchema')!r} lacks Key or ETag")
    shards = []
    for item in manifest.get("files") or []:
        key = str(item.get("key", ""))
        if not _SHARD_NAME.match(key.rsplit("/", 1)[-1]):
            raise InputError(f"{name}: unexpected shard key {key!r}")
        check_relative(key, f"{name}: shard key")
        shards.append(ShardFile(key, md5_of_etag(item.get("MD5checksum"))))
    if not shards:
        raise InputError(f"{name}: lists no inventory files")
    return Inventory(snapshot, hashlib.sha256(data).hexdigest(), columns, tuple(shards))


def snapshots(client: HttpClient, base_url: str, prefix: str = INVENTORY_PREFIX) -> list[str]:
    """Snapshot folder names, newest first (`data/` and `hive/` are not snapshots)."""
    names = [p[len(prefix):].rstrip("/") for p in list_folders(client, base_url, prefix)]
    return sorted((n for n in names if _SNAPSHOT.match(n)), reverse=True)


def readable_snapshots(client: HttpClient, base_url: str, problems: list[str], prefix: str = INVENTORY_PREFIX,
                       tries: int = 3) -> Iterator[Inventory]:
    """The snapshots whose manifest can be read, newest first, up to `tries` back; why each other one
    could not be used is appended to `problems` (the caller adds its own: a damaged shard)."""
    names = snapshots(client, base_url, prefix)
    if not names:
        raise FetchError(f"no inventory snapshot under {object_url(base_url, prefix)}")
    for snapshot in names[:tries]:
        url = object_url(base_url, f"{prefix}{snapshot}/manifest.json")
        try:
            manifest = parse_manifest(s3.get(client, url).content, snapshot, url)
        except (FetchError, InputError) as exc:  # still being written, or damaged: one day back
            logger.warning("inventory %s not usable (%s); trying the one before", snapshot, exc)
            problems.append(f"{snapshot}: {exc}")
            continue
        yield manifest


def download_shards(client: HttpClient, base_url: str, inventory: Inventory, folder: Path) -> list[Path]:
    """Every shard of the snapshot in `folder`, MD5-verified (resumed, never fetched twice).

    Shards of older snapshots in `folder` are removed: a snapshot is a few hundred MB.
    """
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for shard in inventory.shards:
        target = inside(folder, shard.key.rsplit("/", 1)[-1], "inventory shard")
        if not (target.is_file() and shard.md5 and file_digests(target)[0] == shard.md5):
            s3.download(client, object_url(base_url, shard.key), target, md5=shard.md5)
        paths.append(target)
    wanted = {p.name for p in paths}
    for stale in folder.glob("*.csv.gz"):
        if stale.name not in wanted:
            stale.unlink()
    return paths


def read_shard(path: Path, columns: tuple[str, ...]) -> Iterator[InventoryRow]:
    """The rows of one shard under `metadata/` (gunzip bounded by safe_io, lines by MAX_LINE)."""
    with open_input(path) as raw:
        try:
            for number, cells in enumerate(csv.reader(_lines(raw, path.name)), 1):
                if len(cells) != len(columns):
                    raise InputError(f"{path.name}: row {number} has {len(cells)} cells, the schema {len(columns)}")
                row = dict(zip(columns, cells))
                if row["key"].startswith(METADATA_PREFIX):
                    yield InventoryRow(row["key"], row["etag"].strip('"') or None, row.get("last_modified") or None)
        except csv.Error as exc:  # a quoted field past csv's field limit, a NUL byte
            raise InputError(f"{path.name}: not an inventory CSV ({exc})") from None


def _lines(raw, name: str) -> Iterator[str]:
    """The lines of a decompressed shard, each read with a length cap: a shard of zeros (no newline
    ever) is refused after MAX_LINE bytes instead of read whole."""
    buffered = io.BufferedReader(raw, 1 << 16)
    for number in itertools.count(1):
        line = buffered.readline(MAX_LINE + 1)
        if not line:
            return
        if len(line) > MAX_LINE:
            raise InputError(f"{name}: line {number} is longer than {MAX_LINE} bytes")
        try:
            yield line.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise InputError(f"{name}: line {number} is not UTF-8 ({exc.reason})") from None
