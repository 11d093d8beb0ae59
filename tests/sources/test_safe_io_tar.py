"""Tar archives through `safe_io.open_tar`: an oversized pax / GNU long-name header is refused
before tarfile reads it into memory; genuine archives (long names included) read as before."""
from __future__ import annotations

import gzip
import io
import tarfile
import tracemalloc

import pytest

from conftest import FIXTURES
from sources.errors import HostileInputError, InputError
from sources.safe_io import MAX_TAR_HEADER_BYTES, open_tar

NXML = (FIXTURES / "pmc_jats" / "PMC3166277_bmc-microbiol_1471-2180-11-174.nxml").read_bytes()
DECLARED = 1 << 30  # what the hostile header claims
SENT = 16 << 20  # what follows it: zeros, gzipped to ~16 KB, then the archive just stops


def hostile_archive(kind: bytes, fmt: int) -> bytes:
    """A .tar.gz whose first header is an extended-header member declaring 1 GiB, body truncated."""
    info = tarfile.TarInfo("././@PaxHeader" if fmt != tarfile.GNU_FORMAT else "././@LongLink")
    info.type, info.size = kind, DECLARED
    header = info.tobuf(format=fmt)
    assert len(header) == tarfile.BLOCKSIZE and header[156:157] == kind
    return gzip.compress(header + b"\0" * SENT, compresslevel=1, mtime=0)


def peak_bytes(read) -> tuple[int, BaseException | None]:
    """Peak Python allocation while `read()` runs, and what it raised."""
    tracemalloc.start()
    raised = None
    try:
        read()
    except Exception as exc:  # noqa: BLE001 - the test inspects it
        raised = exc
    finally:
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
    return peak, raised


def list_members(data: bytes, opener) -> list:
    with opener(io.BytesIO(data)) as archive:
        return [(member.name, archive.extractfile(member).read() if member.isreg() else None) for member in archive]


HOSTILE = [
    (tarfile.XHDTYPE, tarfile.PAX_FORMAT, "pax extended header"),
    (tarfile.XGLTYPE, tarfile.PAX_FORMAT, "pax global header"),
    (tarfile.GNUTYPE_LONGNAME, tarfile.GNU_FORMAT, "GNU long name"),
    (tarfile.GNUTYPE_LONGLINK, tarfile.GNU_FORMAT, "GNU long link"),
]


@pytest.mark.parametrize("kind, fmt, what", HOSTILE)
def test_huge_extended_header_is_refused_before_it_is_read(kind, fmt, what):
    data = hostile_archive(kind, fmt)
    # Plain tarfile reads the whole declared body into one bytes object: all 16 MiB that were sent
    # (1 GiB had they been), twice over while it joins the pieces.
    plain_peak, _ = peak_bytes(lambda: list_members(data, lambda f: tarfile.open(fileobj=f, mode="r|gz")))
    assert plain_peak > SENT
    peak, raised = peak_bytes(lambda: list_members(data, lambda f: open_tar(f, "hostile.tar.gz", "r|gz")))
    assert isinstance(raised, HostileInputError)
    assert str(raised) == f"hostile.tar.gz: {what} member of {DECLARED} bytes (cap {MAX_TAR_HEADER_BYTES})"
    assert peak < 1 << 20  # the header block and a few reads, not the body


def test_uncompressed_and_auto_detected_modes_are_capped_too():
    raw = gzip.decompress(hostile_archive(tarfile.XHDTYPE, tarfile.PAX_FORMAT))
    for mode, data in (("r|", raw), ("r|*", raw), ("r|*", gzip.compress(raw, mtime=0)), ("r:*", raw)):
        with pytest.raises(HostileInputError):
            list_members(data, lambda f: open_tar(f, "hostile.tar", mode))


@pytest.mark.parametrize("fmt", [tarfile.PAX_FORMAT, tarfile.GNU_FORMAT])
def test_genuine_archives_with_long_names_read_as_with_tarfile(fmt):
    """A real JATS article under a 250-character name (a pax or GNU long-name header), plus a
    small pax header of attributes: the same members and bytes as plain tarfile gives."""
    buffer = io.BytesIO()
    with gzip.GzipFile(fileobj=buffer, mode="wb", mtime=0) as gz, tarfile.open(fileobj=gz, mode="w", format=fmt) as tar:
        info = tarfile.TarInfo("PMC3166277/" + "long-directory-name/" * 12 + "article.nxml")
        info.size = len(NXML)
        if fmt == tarfile.PAX_FORMAT:
            info.pax_headers = {"comment": "a small pax record"}
        tar.addfile(info, io.BytesIO(NXML))
    data = buffer.getvalue()
    expected = list_members(data, lambda f: tarfile.open(fileobj=f, mode="r|gz"))
    assert expected[0][1] == NXML and len(expected[0][0]) > 100
    assert list_members(data, lambda f: open_tar(f, "ok.tar.gz", "r|gz")) == expected


def test_damaged_archives_are_input_errors():
    with pytest.raises(InputError):
        list_members(b"this is not a tar archive" * 40, lambda f: open_tar(f, "text.tar", "r|"))
    good = gzip.compress(tarfile.TarInfo("a").tobuf() + b"\0" * 1024, mtime=0)
    with pytest.raises(InputError, match="truncated gzip"):
        list_members(good[: len(good) // 2], lambda f: open_tar(f, "cut.tar.gz", "r|gz"))
