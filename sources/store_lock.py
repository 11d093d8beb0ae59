"""One writer per raw store: an OS file lock held for as long as a command works on the store.

Two syncs into one folder race on the same `.part` files and manifest rows (one deletes what the
other just chose). The lock is `fcntl.flock` on `<store>/.lock`: the kernel releases it when the
holder exits, however it exits (kill -9 included), so a stale lock never blocks. The file names
its holder while held and is emptied on release, so an idle store's bytes do not depend on who
last used it.
"""
from __future__ import annotations

import fcntl
import functools
import inspect
import os
import socket
from pathlib import Path
from typing import Callable, TypeVar

from sources.errors import SourceError
from sources.raw_store import utc_timestamp

LOCK_NAME = ".lock"
F = TypeVar("F", bound=Callable)


class StoreBusyError(SourceError):
    """Another process holds the raw store's lock."""


class StoreLock:
    """`with StoreLock(root):` holds `root/.lock` or raises StoreBusyError at once (never waits)."""

    def __init__(self, root: Path | str):
        self.path = Path(root) / LOCK_NAME
        self._handle = None

    def __enter__(self) -> "StoreLock":
        self.path.parent.mkdir(parents=True, exist_ok=True)
        handle = open(self.path, "a+", encoding="utf-8")
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.seek(0)
            holder = handle.read(500).strip() or "another process"
            handle.close()
            raise StoreBusyError(f"raw store {self.path.parent} is in use by {holder}; "
                                 f"wait for it to finish (the lock goes when it exits)") from None
        handle.seek(0)
        handle.truncate()
        handle.write(f"pid {os.getpid()} on {socket.gethostname()} since {utc_timestamp()}")
        handle.flush()
        self._handle = handle
        return self

    def __exit__(self, *exc) -> None:
        if self._handle is not None:
            self._handle.truncate(0)  # still held: nobody reads a half-emptied holder line
            fcntl.flock(self._handle.fileno(), fcntl.LOCK_UN)
            self._handle.close()
            self._handle = None


def holds_store_lock(store_argument: str) -> Callable[[F], F]:
    """Decorates a fetch function whose argument `store_argument` is its raw store: the call holds
    that store's lock throughout (raising StoreBusyError at once when another process has it)."""

    def decorate(func: F) -> F:
        signature = inspect.signature(func)

        @functools.wraps(func)
        def locked(*args, **kwargs):
            with StoreLock(signature.bind(*args, **kwargs).arguments[store_argument]):
                return func(*args, **kwargs)

        return locked  # type: ignore[return-value]

    return decorate
