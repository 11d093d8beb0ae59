"""Reading a raw input file as one snapshot, whatever a concurrent fetch does to its path.

Every fetch writes a raw store by atomic rename (curation.storage.open_write): a new version of
a file is a new inode put under the old name, and a handle opened before the rename keeps reading
the old one (POSIX). So a stage that makes several passes over one input (hash it, check it,
parse it) opens it once and runs every pass on that handle: what it hashes is what it parses,
even when a `pmc fetch` or `pubmed fetch` replaces the file meanwhile. A writer that rewrites a
file in place instead (`cp` over it) is outside this guarantee; no medcurate command does.

Where the passes cannot share a handle (`pubmed parse` scans every file before it parses any),
the first pass records a `FileSnapshot` (the file's size, mtime and inode when opened, and the
sha256 of the bytes it read), and the later pass checks, on the handle it then reads, that the
file is still that one: a file replaced meanwhile is an InputError ("changed while the stage read
it") before anything is parsed.
"""
from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from typing import BinaryIO

from sources.errors import InputError

_HASH_CHUNK = 1 << 20


def open_raw(path: str | os.PathLike) -> BinaryIO:
    """The stored file, opened for binary reading; InputError when it cannot be."""
    name = os.fspath(path)
    try:
        return open(name, "rb")
    except OSError as exc:
        raise InputError(f"{name}: cannot open ({exc.strerror or exc})") from None


def sha256_handle(handle: BinaryIO) -> str:
    """Hex sha256 of an open file's bytes from its start; the handle is left at its start again."""
    handle.seek(0)
    digest = hashlib.sha256()
    while chunk := handle.read(_HASH_CHUNK):
        digest.update(chunk)
    handle.seek(0)
    return digest.hexdigest()


class HashingReader:
    """A file's bytes as a reader takes them, hashed on the way (sha256 of the stored bytes in the
    same pass as the parse). Closing it leaves the file open: its opener closes it."""

    def __init__(self, inner: BinaryIO):
        self._inner = inner
        self._digest = hashlib.sha256()

    def read(self, size: int = -1) -> bytes:
        data = self._inner.read(size)
        self._digest.update(data)
        return data

    def readline(self, size: int = -1) -> bytes:
        line = self._inner.readline(size)
        self._digest.update(line)
        return line

    def seek(self, offset: int, whence: int = os.SEEK_SET) -> int:
        """Back to the start only (a reader sniffing the first bytes): the hash starts again."""
        if (offset, whence) != (0, os.SEEK_SET):
            raise ValueError("a HashingReader seeks back to its start only")
        self._digest = hashlib.sha256()
        return self._inner.seek(0)

    def close(self) -> None:
        pass

    def hexdigest_to_end(self) -> str:
        """The sha256 of the whole file: what is left unread (a reader stopped by an error) is
        read and hashed first."""
        while chunk := self._inner.read(_HASH_CHUNK):
            self._digest.update(chunk)
        return self._digest.hexdigest()


@dataclass(frozen=True)
class FileSnapshot:
    """The file one pass read: its sha256, and its size, mtime and inode when it was opened.

    The device number is left out: an NFS client numbers the same export differently on each
    machine. An atomic rename gives the name another inode (and, written later, another mtime).
    """

    sha256: str
    size: int
    mtime_ns: int
    inode: int

    @staticmethod
    def stat_of(handle: BinaryIO) -> tuple[int, int, int]:
        st = os.fstat(handle.fileno())
        return st.st_size, st.st_mtime_ns, st.st_ino

    def check(self, handle: BinaryIO, name: str) -> None:
        """InputError unless `handle` is open on the file this snapshot was taken of."""
        now = self.stat_of(handle)
        if now != (self.size, self.mtime_ns, self.inode):
            raise InputError(
                f"{name}: changed while the stage read it (size, mtime, inode {self.size}, {self.mtime_ns}, "
                f"{self.inode} when first read, {now[0]}, {now[1]}, {now[2]} now); run the stage again")
