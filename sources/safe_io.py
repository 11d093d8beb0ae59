"""Bounded reading of raw input files: transparent gunzip with a cap on decompressed bytes.

Every source opens its raw files through `open_input`, so a gzip bomb, a truncated download or an
empty file is an `InputError` (an error-ledger entry) rather than a crash or an exhausted disk.
Tar archives are opened through `open_tar`, which refuses an oversized pax or GNU long-name
header before Python's tarfile reads it whole into memory, caps the GNU sparse maps it reads
block by block, and turns a sparse header cut short into an InputError.
"""
from __future__ import annotations

import hashlib
import io
import os
import tarfile
import zlib
from pathlib import Path
from typing import BinaryIO

from sources.errors import HostileInputError, InputError
from sources.snapshot import open_raw, sha256_handle

try:  # ISA-L's inflate: the zlib API and the same gzip checks (CRC32, size), 2-3x faster
    from isal import isal_zlib as _inflate_lib
except ImportError:  # pragma: no cover - isal is a dependency; zlib is the portable fallback
    _inflate_lib = zlib
_INFLATE_ERRORS = (zlib.error, _inflate_lib.error)

GZIP_MAGIC = b"\x1f\x8b"
# Largest PubMed baseline files decompress to a few hundred MB; JATS articles to a few MB.
DEFAULT_MAX_BYTES = 4 * 1024**3
_HASH_CHUNK = 1 << 20
_RAW_CHUNK = 1 << 16  # larger raw reads cost more in unconsumed_tail copies
_GZIP_WBITS = 16 + zlib.MAX_WBITS  # gzip header and trailer (CRC32, size) checked by zlib


class BoundedReader(io.RawIOBase):
    """A read-only stream that stops with HostileInputError once `max_bytes` have been produced.

    """

    def __init__(self, inner: BinaryIO, max_bytes: int, name: str):
        super().__init__()
        self._inner = inner
        self._left = max_bytes
        self._max = max_bytes
        self.name = name

    def readable(self) -> bool:
        return True

    def read(self, size: int = -1) -> bytes:
        if size is None or size < 0:
            # Chunked, so "read everything" never allocates the cap up front.
            parts = []
            while chunk := self.read(_HASH_CHUNK):
                parts.append(chunk)
            return b"".join(parts)
        # Never ask the inner stream for more than one byte past the cap: a bomb is detected
        # without ever materialising it.
        want = min(size, self._left + 1)
        data = self._inner.read(want)
        if len(data) > self._left:
            raise HostileInputError(f"{self.name}: decompressed size exceeds {self._max} bytes")
        self._left -= len(data)
        return data

    def readinto(self, buffer) -> int:  # io.RawIOBase protocol
        data = self.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)

    def close(self) -> None:
        try:
            self._inner.close()
        finally:
            super().close()


def open_input(path: str | os.PathLike, max_bytes: int = DEFAULT_MAX_BYTES) -> BoundedReader:
    """Open `path` for reading, gunzipping it when its first bytes are the gzip magic.

    The file name is not trusted (a renamed `.gz` still decompresses, a plain `.xml.gz` still
    reads). Raises InputError for a missing or empty file; reading raises InputError for a
    corrupt/truncated gzip and HostileInputError past `max_bytes` of output.
    """
    name = os.fspath(path)
    raw = open_raw(name)
    try:
        return open_stream(raw, name, max_bytes)
    except BaseException:
        raw.close()
        raise


def open_bytes(data: bytes, name: str = "<bytes>", max_bytes: int = DEFAULT_MAX_BYTES) -> BoundedReader:
    """`open_input` for bytes already in memory (an HTTP body, a test document)."""
    return open_stream(io.BytesIO(data), name, max_bytes)


def open_stream(raw: BinaryIO, name: str, max_bytes: int = DEFAULT_MAX_BYTES) -> BoundedReader:
    """`open_input` on a file already open at its start (sources/snapshot.py: a stage that
    hashed or checked it on the same handle); closing the reader closes `raw`."""
    magic = raw.read(2)
    if not magic:
        raise InputError(f"{name}: empty file")
    raw.seek(0)
    if magic == GZIP_MAGIC:
        return BoundedReader(_Gunzip(raw, name), max_bytes, name)
    return BoundedReader(raw, max_bytes, name)


class _Gunzip:
    """Streaming gunzip of a raw file (members in sequence, zero padding allowed).

    zlib checks each member's CRC and length itself. Output per call is bounded by `size`, so a
    bomb never inflates past what was asked for. A truncated or corrupt stream first returns what
    decompressed cleanly and raises InputError on the next read, so callers keep every record
    before the damage.
    """

    def __init__(self, raw: BinaryIO, name: str):
        self._raw, self._name = raw, name
        self._inflate = _inflate_lib.decompressobj(_GZIP_WBITS)
        self._input = b""  # compressed bytes not yet consumed by the decompressor
        self._error: InputError | None = None

    def read(self, size: int) -> bytes:
        if self._error is not None:
            raise self._error
        parts: list[bytes] = []
        got = 0
        while got < size:
            if self._inflate.eof:
                rest = self._inflate.unused_data or self._raw.read(_RAW_CHUNK)
                if not rest:
                    break  # clean end of the last member
                if not rest.strip(b"\0"):
                    self._skip_padding()
                    break
                self._inflate = _inflate_lib.decompressobj(_GZIP_WBITS)
                self._input = rest
                continue
            if not self._input:
                self._input = self._raw.read(_RAW_CHUNK)
                if not self._input:
                    return self._fail(parts, "truncated gzip (the stream ends inside a member)")
            try:
                data = self._inflate.decompress(self._input, size - got)
            except _INFLATE_ERRORS as exc:
                return self._fail(parts, f"corrupt gzip ({exc})")
            self._input = self._inflate.unconsumed_tail
            if data:
                parts.append(data)
                got += len(data)
        return b"".join(parts)

    def _skip_padding(self) -> None:
        """Accept trailing zeros (gzip padding) to the end of the file, and nothing else."""
        while chunk := self._raw.read(_RAW_CHUNK):
            if chunk.strip(b"\0"):
                raise InputError(f"{self._name}: corrupt gzip (data after zero padding)")

    def _fail(self, parts: list[bytes], message: str) -> bytes:
        self._error = InputError(f"{self._name}: {message}")
        if parts:
            return b"".join(parts)
        raise self._error

    def close(self) -> None:
        self._raw.close()


def read_input(path: str | os.PathLike, max_bytes: int = DEFAULT_MAX_BYTES) -> bytes:
    """The whole (decompressed) content of a small input, with the same caps and errors."""
    return _read_all(open_input(path, max_bytes=max_bytes), os.fspath(path))


def read_input_hashed(path: str | os.PathLike, max_bytes: int = DEFAULT_MAX_BYTES) -> tuple[bytes, str]:
    """`(read_input(path, max_bytes), sha256_file(path))`, from one handle: the bytes hashed are
    the bytes read, even when a fetch replaces the file meanwhile (sources/snapshot.py).

    A stored file larger than `max_bytes` is hashed, then streamed from the same handle (a plain
    one is refused there), so it is never loaded whole.
    """
    name = os.fspath(path)
    with open_raw(name) as raw_file:
        fits = os.fstat(raw_file.fileno()).st_size <= max_bytes
        raw = raw_file.read() if fits else b""
        if not fits or len(raw) > max_bytes:
            digest = sha256_handle(raw_file)
            return _read_all(open_stream(raw_file, name, max_bytes), name), digest
    digest = hashlib.sha256(raw).hexdigest()
    if raw[:2] != GZIP_MAGIC:
        if not raw:
            raise InputError(f"{name}: empty file")
        return raw, digest
    return _read_all(open_bytes(raw, name, max_bytes), name), digest


def _read_all(stream: BoundedReader, name: str) -> bytes:
    with stream:
        data = stream.read()
    if not data:
        raise InputError(f"{name}: empty after decompression")
    return data


def sha256_file(path: str | os.PathLike) -> str:
    """Hex sha256 of the file's bytes as stored (compressed bytes for a .gz)."""
    with open(Path(path), "rb") as fh:
        return sha256_handle(fh)


# --- tar archives ------------------------------------------------------------------------------------
# A pax extended header ("x", "g", Solaris "X") or a GNU long name / long link ("L", "K") is a member
# whose body tarfile reads into memory in one piece, whatever size its header declares: a 1 GB
# header of zeros gzips to about 1 MB. Real ones hold a path and a few attributes.
MAX_TAR_HEADER_BYTES = 1 << 20
_EXTENDED_HEADER_TYPES = {
    tarfile.XHDTYPE: "pax extended header",
    tarfile.XGLTYPE: "pax global header",
    tarfile.SOLARIS_XHDTYPE: "Solaris extended header",
    tarfile.GNUTYPE_LONGNAME: "GNU long name",
    tarfile.GNUTYPE_LONGLINK: "GNU long link",
}


class _SparseMapReader:
    """The archive's stream as tarfile reads a GNU sparse map from it: HostileInputError once the
    map passes `cap` bytes, so its list of regions (~4 bytes of map, ~100 of Python each) stays
    bounded."""

    def __init__(self, inner, cap: int, archive: str):
        self._inner, self._left, self._cap, self._archive = inner, cap, cap, archive

    def read(self, size: int) -> bytes:
        if size > self._left:
            raise HostileInputError(f"{self._archive}: GNU sparse map longer than {self._cap} bytes")
        self._left -= size
        return self._inner.read(size)

    def tell(self) -> int:
        return self._inner.tell()


class CappedTarInfo(tarfile.TarInfo):
    """A TarInfo that refuses an extended header larger than `max_header_bytes`.

    `frombuf` (public tarfile API) parses each 512-byte header block; tarfile calls it before it
    reads the member's body, and again for the header that a pax or long-name member precedes.
    The GNU sparse formats whose map tarfile reads from the archive itself, with no bound (old
    GNU extension blocks, pax sparse 1.0), read it through `_SparseMapReader`; a map cut short
    or not made of numbers, which tarfile meets as an IndexError or ValueError, is an InputError.
    """

    archive = "<archive>"
    max_header_bytes = MAX_TAR_HEADER_BYTES

    @classmethod
    def frombuf(cls, buf, encoding, errors):
        info = super().frombuf(buf, encoding, errors)
        kind = _EXTENDED_HEADER_TYPES.get(info.type)
        if kind is not None and info.size > cls.max_header_bytes:
            raise HostileInputError(
                f"{cls.archive}: {kind} member of {info.size} bytes (cap {cls.max_header_bytes})"
            )
        return info

    # tarfile's own per-format hooks (TarInfo._proc_member dispatches to them), wrapped.
    def _proc_sparse(self, tarfile_):
        return self._read_sparse_map(tarfile_, lambda: super(CappedTarInfo, self)._proc_sparse(tarfile_))

    def _proc_gnusparse_10(self, next, pax_headers, tarfile_):
        return self._read_sparse_map(
            tarfile_, lambda: super(CappedTarInfo, self)._proc_gnusparse_10(next, pax_headers, tarfile_))

    def _read_sparse_map(self, tarfile_, process):
        stream = tarfile_.fileobj
        tarfile_.fileobj = _SparseMapReader(stream, self.max_header_bytes, self.archive)
        try:
            return process()
        except (IndexError, ValueError) as exc:
            raise InputError(f"{self.archive}: truncated or damaged GNU sparse header ({type(exc).__name__}: {exc})") from None
        finally:
            tarfile_.fileobj = stream


def open_tar(
    fileobj: BinaryIO,
    name: str = "<archive>",
    mode: str = "r|*",
    *,
    max_bytes: int = DEFAULT_MAX_BYTES,
    max_header_bytes: int = MAX_TAR_HEADER_BYTES,
) -> tarfile.TarFile:
    """`tarfile.open(fileobj=fileobj, mode=mode)` that refuses oversized extended headers.

    Streaming modes (`r|gz`, `r|`, `r|*`) read member by member; iterating the archive raises
    HostileInputError at a pax/long-name header declaring more than `max_header_bytes`, before
    its body is read, or at a GNU sparse map longer than that, and InputError at a sparse header
    cut short. With `r|gz` the gunzip is this module's (output bounded per read and by
    `max_bytes` in all; a corrupt or truncated gzip is an InputError) rather than tarfile's, which
    inflates each 10 KiB it reads without a bound. An archive tarfile cannot open at all is an
    InputError.
    """
    if mode == "r|gz":
        fileobj, mode = BoundedReader(_Gunzip(fileobj, name), max_bytes, name), "r|"
    tarinfo = type("CappedTarInfo", (CappedTarInfo,), {"archive": name, "max_header_bytes": max_header_bytes})
    try:
        return tarfile.open(fileobj=fileobj, mode=mode, tarinfo=tarinfo)
    except (tarfile.TarError, EOFError) as exc:
        raise InputError(f"{name}: unreadable tar archive ({type(exc).__name__}: {exc})") from None
