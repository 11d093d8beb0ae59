"""A concurrent fetch for tests: a thread that keeps replacing one file by atomic rename.

Every fetch commits a raw file by writing a temporary one and renaming it over the old
(curation.storage.open_write). `RenamingWriter` does that as fast as it can, alternating between
versions of the file, while the test reads the file through a stage's real reader: a reader that
opens the file by path twice (hash, then parse) soon sees two versions; one that reads a single
handle never does (sources/snapshot.py).
"""
from __future__ import annotations

import hashlib
import os
import sys
import threading
from pathlib import Path


class RenamingWriter:
    """`fresh`: write each version anew (a new inode and modification time, as a stage's writer
    does) instead of linking the same two files in turn, whose identities then come back."""

    def __init__(self, path: Path, versions: list[bytes], fresh: bool = False):
        self.path = Path(path)
        self.versions = versions
        self.fresh = fresh
        self.digests = [hashlib.sha256(v).hexdigest() for v in versions]
        self._sources = []
        for index, data in enumerate(versions):
            source = self.path.parent / f".version-{index}"
            source.write_bytes(data)
            self._sources.append(source)
        self.path.write_bytes(versions[0])
        self.renames = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        tmp = self.path.with_name(self.path.name + ".tmp")
        while not self._stop.is_set():
            following = (self.renames + 1) % len(self._sources)
            if self.fresh:
                tmp.write_bytes(self.versions[following])
            else:
                os.link(self._sources[following], tmp)  # a new name for one of the versions' files
            os.replace(tmp, self.path)
            self.renames += 1

    def __enter__(self) -> "RenamingWriter":
        self._interval = sys.getswitchinterval()
        sys.setswitchinterval(1e-5)  # let the writer run between the reader's steps, not every 5 ms
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()
        sys.setswitchinterval(self._interval)


def slow_to_hash(gzipped: bytes) -> bytes:
    """A gzip file followed by 8 MiB of zero padding, which gzip readers accept and skip: hashing
    it takes milliseconds, so a writer surely renames within the gap that a reader opening the
    file twice (hash, then parse) leaves."""
    return gzipped + bytes(8 << 20)


def versions_seen(writer: RenamingWriter, read, rounds: int, version_of) -> list[tuple[int, int]]:
    """Read the file `rounds` times while `writer` replaces it; for each item `read(path)` gives,
    (the version its provenance hash names, the version `version_of(item)` says its content came
    from; None: an item both versions hold alike, left out). A reader whose hash describes the
    bytes it parsed gives only pairs of one version."""
    seen = []
    with writer:
        for _ in range(rounds):
            for item in read(writer.path):
                content = version_of(item)
                if content is not None:
                    seen.append((writer.digests.index(item_digest(item)), content))
    assert writer.renames > rounds, "the writer hardly ran: the test proves nothing"
    return seen


def item_digest(item) -> str:
    import json

    doc = item if isinstance(item, dict) else item.doc
    return json.loads(doc["provenance"])["sha256"]
