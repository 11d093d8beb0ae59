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
from hostile_tar import gnu_sparse_10_member, gnu_sparse_member
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


# --- GNU sparse maps: read by tarfile from the archive itself, block by block --------------------

SPARSE_MAPS = [  # (member, regions in its map)
    (lambda: gnu_sparse_member(4 << 11), 4 + 21 * (4 << 11)),  # 4 MiB of extension blocks
    (lambda: gnu_sparse_10_member(1 << 19), 1 << 19),  # 2 MiB of pax 1.0 map
]


@pytest.mark.parametrize("member, regions", SPARSE_MAPS)
def test_a_gnu_sparse_map_is_capped_while_tarfile_reads_it(member, regions):
    raw = member() + b"\0" * 1024
    data = gzip.compress(raw, compresslevel=1, mtime=0)
    # Plain tarfile keeps every region of the map as Python numbers (1.3 GiB for the 300 MB of
    # extension blocks that gzip to 1 MB).
    (plain,) = list(tarfile.open(fileobj=io.BytesIO(raw), mode="r|"))
    assert len(plain.sparse) == regions
    cap = MAX_TAR_HEADER_BYTES // 4  # the default's quarter: a quicker test, the same code
    peak, raised = peak_bytes(lambda: list(open_tar(io.BytesIO(data), "sparse.tar.gz", "r|gz", max_header_bytes=cap)))
    assert isinstance(raised, HostileInputError), raised
    assert str(raised) == f"sparse.tar.gz: GNU sparse map longer than {cap} bytes"
    assert peak < 2 << 20


def test_a_truncated_gnu_sparse_header_is_an_input_error_not_an_index_error():
    data = gzip.compress(gnu_sparse_member(1, cut=100), mtime=0)
    with pytest.raises(IndexError):  # what plain tarfile gives, failing the whole stage
        list(tarfile.open(fileobj=io.BytesIO(data), mode="r|gz"))
    with pytest.raises(InputError, match=r"^cut.tar.gz: truncated or damaged GNU sparse header \(IndexError: "):
        list(open_tar(io.BytesIO(data), "cut.tar.gz", "r|gz"))


def test_a_small_genuine_sparse_map_reads_as_with_tarfile():
    """Two extension blocks ending with the 'no more' flag: the same regions as plain tarfile."""
    member = bytearray(gnu_sparse_member(2))
    member[-8] = 0  # the last block ends the map
    data = bytes(member) + b"\0" * 1024
    plain = [(m.name, m.sparse, m.size) for m in tarfile.open(fileobj=io.BytesIO(data), mode="r|")]
    assert len(plain[0][1]) == 4 + 2 * 21  # the header's four slots and two blocks of 21
    assert [(m.name, m.sparse, m.size) for m in open_tar(io.BytesIO(data), "ok.tar", "r|")] == plain
