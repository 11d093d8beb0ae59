"""Tar members that real tools never write, built block by block for the tests of the tar readers."""
from __future__ import annotations

import tarfile


def _octal(number: int) -> bytes:
    return b"%011o\0" % number


def gnu_sparse_member(extension_blocks: int, cut: int | None = None) -> bytes:
    """An old-GNU sparse member header ('S') announcing extension blocks, then `extension_blocks`
    of them, each with 21 regions and the 'more follow' flag set; `cut` ends the archive that many
    bytes into the first block."""
    info = tarfile.TarInfo("PMC1/sparse.nxml")
    info.type, info.size = tarfile.GNUTYPE_SPARSE, 0
    header = bytearray(info.tobuf(format=tarfile.GNU_FORMAT))
    header[386:410] = _octal(0) + _octal(512)  # the header's first region
    header[482] = 1  # isextended
    header[483:495] = _octal(1 << 32)  # real size (4 GiB of holes)
    header[148:156] = b" " * 8
    header[148:156] = b"%06o\0 " % sum(header)
    block = b"".join(_octal(i * 1024) + _octal(512) for i in range(1, 22)).ljust(504, b"\0") + b"\1".ljust(8, b"\0")
    assert len(header) == len(block) == tarfile.BLOCKSIZE
    if cut is not None:
        return bytes(header) + block[:cut]
    return bytes(header) + block * extension_blocks


def gnu_sparse_10_member(regions: int) -> bytes:
    """A pax sparse 1.0 member whose map (at the start of its data) lists `regions` regions:
    tarfile reads numbers until it has them all."""
    numbers = b"%d\n" % regions + b"1\n2\n" * regions
    info = tarfile.TarInfo("PMC1/GNUSparseFile.0/sparse.nxml")
    info.size = len(numbers)
    info.pax_headers = {"GNU.sparse.major": "1", "GNU.sparse.minor": "0", "GNU.sparse.name": "PMC1/sparse.nxml",
                        "GNU.sparse.realsize": str(1 << 40)}
    padding = -len(numbers) % tarfile.BLOCKSIZE
    return info.tobuf(format=tarfile.PAX_FORMAT) + numbers + b"\0" * padding
