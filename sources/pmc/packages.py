"""Reading PMC OA packages (`PMCnnn.tar.gz`): the article XML only, nothing else, with caps.

A package holds the article's .nxml plus figures, PDFs and supplements. We never extract it:
members are read one by one from the stream and handed on one at a time (`iter_articles`), so
only one member's bytes are held; only regular files named `*.nxml` are read, their bytes all
together under a size cap (`max_nxml_bytes`, checked on each header before its body is read), all
members under a decompressed-size cap and a member-count cap. A package is refused outright
(HostileInputError) when any member name is absolute or climbs out (`..`), when it carries a
link or device, when there are too many members, or when an .nxml member is larger than the cap:
none of that happens in a genuine package, so it means a damaged or hostile file.

Callers choose where the bytes go; no member name ever becomes a path (see fetch.py).
"""
from __future__ import annotations

import tarfile
from dataclasses import dataclass
from pathlib import PurePosixPath
from typing import BinaryIO, Iterator

from sources.errors import HostileInputError, InputError
from sources.safe_io import open_tar

MAX_MEMBERS = 2_000  # the largest real packages hold a few hundred figures and supplements
MAX_NXML_BYTES = 64 << 20  # all article XML of a package; the largest JATS articles are a few MB
MAX_TOTAL_BYTES = 4 << 30  # skipping media still decompresses it: bound the work (gzip bombs)
ARTICLE_SUFFIXES = (".nxml",)


@dataclass(frozen=True)
class Member:
    name: str  # the member's name inside the package (for provenance only)
    data: bytes


def _check_name(name: str, package: str) -> None:
    path = PurePosixPath(name.replace("\\", "/"))
    if path.is_absolute() or name.startswith(("/", "\\")) or (len(name) > 1 and name[1] == ":"):
        raise HostileInputError(f"{package}: absolute member path {name!r}")
    if ".." in path.parts:
        raise HostileInputError(f"{package}: member path leaves the package: {name!r}")


def iter_articles(
    fileobj: BinaryIO,
    package: str = "<package>",
    *,
    max_members: int = MAX_MEMBERS,
    max_nxml_bytes: int = MAX_NXML_BYTES,
    max_total_bytes: int = MAX_TOTAL_BYTES,
    suffixes: tuple[str, ...] = ARTICLE_SUFFIXES,
) -> Iterator[Member]:
    """The article XML members of a gzipped tar stream, in archive order, one at a time.

    Streams the archive once (`r|gz`): media members are skipped without being held in memory,
    and an article member is read only when the consumer asks for it, so a consumer that parses
    each before taking the next holds one member's bytes at a time. InputError for a corrupt
    archive or one without an article; HostileInputError as above, raised where it is met (a
    consumer that must refuse the whole package keeps what it made until the end).
    """
    count = total = nxml_total = found = 0
    try:
        with open_tar(fileobj, package, "r|gz") as archive:  # refuses oversized pax/long-name/sparse headers
            for member in archive:
                count += 1
                if count > max_members:
                    raise HostileInputError(f"{package}: more than {max_members} members")
                _check_name(member.name, package)
                total += member.size
                if total > max_total_bytes:
                    raise HostileInputError(f"{package}: members add up to more than {max_total_bytes} bytes")
                if member.issym() or member.islnk():
                    raise HostileInputError(f"{package}: link member {member.name!r} -> {member.linkname!r}")
                if not (member.isreg() or member.isdir()):
                    raise HostileInputError(f"{package}: special member {member.name!r} (device, fifo)")
                if not member.isreg() or not member.name.lower().endswith(suffixes):
                    continue
                nxml_total += member.size
                if nxml_total > max_nxml_bytes:
                    raise HostileInputError(
                        f"{package}: member {member.name!r} of {member.size} bytes takes the article XML past "
                        f"{max_nxml_bytes} bytes (cap)")
                stream = archive.extractfile(member)
                data = stream.read(member.size + 1) if stream is not None else b""
                if len(data) > member.size:  # a header that lied about the size
                    raise HostileInputError(f"{package}: member {member.name!r} exceeds its declared {member.size} bytes")
                found += 1
                yield Member(member.name, data)
                del data  # the consumer has it; not held while the next member is read
    except (tarfile.TarError, EOFError, OSError) as exc:
        raise InputError(f"{package}: corrupt or truncated package ({type(exc).__name__}: {exc})") from None
    if not found:
        raise InputError(f"{package}: no article XML ({'/'.join(suffixes)}) in the package")


def read_articles(fileobj: BinaryIO, package: str = "<package>", **caps) -> list[Member]:
    """Every article member of a package at once (`iter_articles` for one at a time)."""
    return list(iter_articles(fileobj, package, **caps))


def open_package(path) -> BinaryIO:
    """The package file, opened for `iter_articles`; InputError when it cannot be."""
    try:
        return open(path, "rb")
    except OSError as exc:
        raise InputError(f"{path}: cannot open ({exc.strerror or exc})") from None


def read_package(path, **caps) -> list[Member]:
    """`read_articles` on a package file."""
    with open_package(path) as handle:
        return read_articles(handle, str(path), **caps)
