"""glibc allocator settings for the dedup passes' short-lived numpy arrays."""
from __future__ import annotations

_MALLOC_TUNED = False


def tune_malloc() -> None:
    """Let glibc reuse freed memory for the short-lived arrays of these passes (once per process).

    Dask starts its workers with MALLOC_TRIM_THRESHOLD_=65536, which also freezes glibc's mmap
    threshold at 128 KiB: every numpy array above that is a fresh mmap, faulted in page by page
    and unmapped when freed. Measured on the benchmark corpus, that is as much system time as the
    work itself. Arrays up to 32 MiB now come from the heap, and the heap is returned to the
    system once 256 MiB of it is free, so memory stays bounded."""
    global _MALLOC_TUNED
    if _MALLOC_TUNED:
        return
    _MALLOC_TUNED = True
    try:
        import ctypes

        libc = ctypes.CDLL("libc.so.6")
        libc.mallopt(-3, 32 << 20)  # M_MMAP_THRESHOLD
        libc.mallopt(-1, 256 << 20)  # M_TRIM_THRESHOLD
    except (OSError, AttributeError):  # not glibc: nothing to tune
        pass
