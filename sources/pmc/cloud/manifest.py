"""The cloud raw store's manifest: one SQLite row per stored object, plus one sync's bookkeeping.

A JSONL manifest held in memory does not scale to the bucket (~9 M versions, two objects each):
rows live in `manifest.sqlite` and every pass over the listing reads it in pages, so memory stays
flat however large the bucket. Each recorded outcome is committed at once (WAL journal), so a
sync killed at any point keeps every outcome recorded before it.

Tables:
    objects    key (bucket object key), kind (metadata | article), number, version, path, url,
               md5, sha256, size, status, etag (of metadata: as the enumeration listed it when
               fetched), license, license_code, fetched_at, error, sync (the last sync that listed
               the metadata / chose the article), verified (1: the bytes matched a published MD5;
               0: none was published, e.g. a multipart ETag "…-N")
    syncs      one row per sync: id, started_at, route
    listed     TEMP: this sync's enumeration (number, version, etag)
    refused    TEMP: versions this sync did not choose, and why
    unreadable TEMP: versions whose metadata could not be fetched or read this sync
    scope      TEMP: the PMC numbers a sync for given PMCIDs covers
"""
from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Iterable, Iterator

from sources.errors import InputError

COLUMNS = ("key", "kind", "number", "version", "path", "url", "md5", "sha256", "size", "status", "etag",
           "license", "license_code", "fetched_at", "error", "sync", "verified")
_SCHEMA = """
CREATE TABLE IF NOT EXISTS objects (
    key TEXT PRIMARY KEY, kind TEXT NOT NULL, number INTEGER NOT NULL, version INTEGER NOT NULL,
    path TEXT, url TEXT, md5 TEXT, sha256 TEXT, size INTEGER, status INTEGER, etag TEXT,
    license TEXT, license_code TEXT, fetched_at TEXT, error TEXT, sync INTEGER, verified INTEGER);
CREATE INDEX IF NOT EXISTS objects_by_version ON objects (kind, number, version);
CREATE TABLE IF NOT EXISTS syncs (id INTEGER PRIMARY KEY AUTOINCREMENT, started_at TEXT, route TEXT);
CREATE TEMP TABLE IF NOT EXISTS listed (number INTEGER, version INTEGER, etag TEXT, PRIMARY KEY (number, version)) WITHOUT ROWID;
CREATE TEMP TABLE IF NOT EXISTS refused (number INTEGER, version INTEGER, reason TEXT, PRIMARY KEY (number, version)) WITHOUT ROWID;
CREATE TEMP TABLE IF NOT EXISTS unreadable (number INTEGER, version INTEGER, PRIMARY KEY (number, version)) WITHOUT ROWID;
CREATE TEMP TABLE IF NOT EXISTS scope (number INTEGER PRIMARY KEY);
"""
# Rows of a scoped sync (given PMCIDs) only; an unscoped sync covers every row.
_IN_SCOPE = "(NOT ? OR o.number IN (SELECT number FROM temp.scope))"
PAGE = 10_000  # listing rows read per query


class Manifest:
    """The SQLite manifest of one raw store; used from one thread."""

    def __init__(self, path: Path):
        path.parent.mkdir(parents=True, exist_ok=True)
        self.db = sqlite3.connect(path, isolation_level=None)  # autocommit unless a transaction is opened
        self.db.row_factory = sqlite3.Row
        try:
            self.db.execute("PRAGMA journal_mode=WAL")
            self.db.execute("PRAGMA synchronous=NORMAL")  # a committed row survives a killed process
            self.db.executescript(_SCHEMA)
            if "verified" not in {row["name"] for row in self.db.execute("PRAGMA table_info(objects)")}:
                self.db.execute("ALTER TABLE objects ADD COLUMN verified INTEGER")  # a store from before it
        except sqlite3.DatabaseError as exc:  # not a database, or damaged: say which file
            self.db.close()
            raise InputError(f"{path}: not a usable manifest ({exc}); move it away to rebuild the store") from None
        self.scoped = False

    def __enter__(self) -> "Manifest":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        self.db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        self.db.close()

    # -- objects ------------------------------------------------------------------------------------------------
    def get(self, key: str) -> dict | None:
        row = self.db.execute("SELECT * FROM objects WHERE key = ?", (key,)).fetchone()
        return dict(row) if row else None

    def put(self, entry: dict) -> None:
        values = [entry.get(column) for column in COLUMNS]
        self.db.execute(f"INSERT OR REPLACE INTO objects ({', '.join(COLUMNS)}) VALUES ({', '.join('?' * len(COLUMNS))})", values)

    def delete(self, key: str) -> None:
        self.db.execute("DELETE FROM objects WHERE key = ?", (key,))

    def mark(self, key: str, sync: int) -> None:
        self.db.execute("UPDATE objects SET sync = ? WHERE key = ?", (sync, key))

    def count(self, kind: str) -> int:
        return self.db.execute("SELECT count(*) FROM objects WHERE kind = ? AND error IS NULL", (kind,)).fetchone()[0]

    # -- one sync -----------------------------------------------------------------------------------------------
    def begin_sync(self, started_at: str, route: str, scope: set[int] | None) -> int:
        for table in ("listed", "refused", "unreadable", "scope"):
            self.db.execute(f"DELETE FROM temp.{table}")
        self.scoped = scope is not None
        self.db.executemany("INSERT INTO temp.scope VALUES (?)", ((n,) for n in sorted(scope or ())))
        return self.db.execute("INSERT INTO syncs (started_at, route) VALUES (?, ?)", (started_at, route)).lastrowid

    def add_listed(self, rows: Iterable[tuple[int, int, str | None]]) -> int:
        """Store this sync's enumeration (replacing any earlier one); a key listed twice keeps its last
        ETag. Returns the count. An enumeration that fails part way leaves nothing listed: the
        transaction is rolled back, so neither half a listing nor an open transaction outlives it."""
        self.db.execute("BEGIN")
        try:
            self.db.execute("DELETE FROM temp.listed")
            self.db.executemany("INSERT OR REPLACE INTO temp.listed VALUES (?, ?, ?)", rows)
        except BaseException:
            self.db.execute("ROLLBACK")
            raise
        self.db.execute("COMMIT")
        return self.db.execute("SELECT count(*) FROM temp.listed").fetchone()[0]

    def listed_with_metadata(self) -> Iterator[sqlite3.Row]:
        """Every listed version with its stored metadata row (if any) and whether its metadata could not
        be fetched this sync, by (number, version), in pages."""
        last = (-1, -1)
        while True:
            page = self.db.execute(
                "SELECT l.number, l.version, l.etag AS listed_etag, o.etag, o.md5, o.path, o.error, "
                "(u.number IS NOT NULL) AS unreadable FROM temp.listed l "
                "LEFT JOIN objects o ON o.kind = 'metadata' AND o.number = l.number AND o.version = l.version "
                "LEFT JOIN temp.unreadable u ON u.number = l.number AND u.version = l.version "
                "WHERE (l.number, l.version) > (?, ?) ORDER BY l.number, l.version LIMIT ?", (*last, PAGE)).fetchall()
            if not page:
                return
            yield from page
            last = (page[-1]["number"], page[-1]["version"])

    def refuse(self, reasons: Iterable[tuple[int, int, str]]) -> None:
        self.db.executemany("INSERT OR REPLACE INTO temp.refused VALUES (?, ?, ?)", reasons)

    def set_unreadable(self, number: int, version: int) -> None:
        self.db.execute("INSERT OR IGNORE INTO temp.unreadable VALUES (?, ?)", (number, version))

    def unchosen_articles(self, sync: int) -> list[dict]:
        """Stored articles this sync did not choose (in scope), with why: the refusal, or whether listed."""
        rows = self.db.execute(
            "SELECT o.*, r.reason AS refused, (l.number IS NOT NULL) AS listed, (u.number IS NOT NULL) AS unreadable "
            "FROM objects o LEFT JOIN temp.refused r ON r.number = o.number AND r.version = o.version "
            "LEFT JOIN temp.listed l ON l.number = o.number AND l.version = o.version "
            "LEFT JOIN temp.unreadable u ON u.number = o.number AND u.version = o.version "
            f"WHERE o.kind = 'article' AND o.sync IS NOT ? AND {_IN_SCOPE} ORDER BY o.number, o.version", (sync, self.scoped))
        return [dict(r) for r in rows]

    def unlisted_metadata(self) -> list[dict]:
        """Stored metadata (in scope) that this sync's enumeration no longer lists."""
        rows = self.db.execute(
            "SELECT o.* FROM objects o WHERE o.kind = 'metadata' AND NOT EXISTS (SELECT 1 FROM temp.listed l "
            f"WHERE l.number = o.number AND l.version = o.version) AND {_IN_SCOPE} ORDER BY o.number, o.version", (self.scoped,))
        return [dict(r) for r in rows]
