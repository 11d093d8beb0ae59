"""A total deadline per attempt, enforced by one watchdog thread that shuts the attempt's socket.

A read timeout bounds each wait for bytes, not the whole answer: a server that sends one byte
every few seconds (slow loris) holds a read forever, in the headers or in the body. Each attempt
therefore runs under a `Deadline`: when it passes, the watchdog thread shuts the attempt's socket
down, which wakes the blocked read, and the attempt fails as retryable (a download keeps its .part).
One watchdog thread serves every attempt of the process (a thread per request cost 16% of the
PMC fetch throughput: benchmarks/bench_pmc_fetch.py).
The socket is known from the moment the request is sent: the connections of the client's session
(`WatchedAdapter`) register it with the deadline of the attempt running in their thread.
"""
from __future__ import annotations

import heapq
import os
import threading
import time
from typing import Callable

import requests.adapters
import urllib3.connection
import urllib3.connectionpool

from sources.http.retry import Retry
from sources.http_settings import HttpSettings

DEFAULT_DEADLINE = HttpSettings.deadline  # seconds for one attempt, headers to last byte (params.yaml http.deadline)

_current = threading.local()  # .deadline: the Deadline of the attempt running in this thread


class Watchdog:
    """One daemon thread that calls each armed callback when its time comes, unless cancelled first."""

    def __init__(self) -> None:
        self._reset()
        os.register_at_fork(after_in_child=self._reset)  # a forked child has no such thread

    def _reset(self) -> None:
        self._cond = threading.Condition()
        self._heap: list[list] = []  # [at, sequence, callback or None once cancelled]
        self._cancelled = 0
        self._sequence = 0
        self._thread: threading.Thread | None = None

    def arm(self, at: float, callback: Callable[[], None]) -> list:
        with self._cond:
            self._sequence += 1
            entry = [at, self._sequence, callback]
            heapq.heappush(self._heap, entry)
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="medcurate-http-deadlines", daemon=True)
                self._thread.start()
            self._cond.notify()
            return entry

    def cancel(self, entry: list) -> None:
        with self._cond:
            if entry[2] is not None:
                entry[2] = None
                self._cancelled += 1
            if self._cancelled > 1000 and self._cancelled * 2 > len(self._heap):  # keep the heap small
                self._heap = [e for e in self._heap if e[2] is not None]
                heapq.heapify(self._heap)
                self._cancelled = 0

    def _run(self) -> None:
        while True:
            with self._cond:
                while not self._heap or self._heap[0][2] is None:
                    if self._heap:
                        heapq.heappop(self._heap)
                        self._cancelled -= 1
                        continue
                    self._cond.wait()
                wait = self._heap[0][0] - time.monotonic()
                if wait > 0:
                    self._cond.wait(wait)
                    continue
                entry = heapq.heappop(self._heap)
                callback, entry[2] = entry[2], None  # a late cancel finds nothing to count
            callback()


_WATCHDOG = Watchdog()


class Deadline:
    """The deadline of one attempt: `expired` once `seconds` have passed; its socket then shut down."""

    def __init__(self, seconds: float | None):
        self.seconds = seconds
        self.at = time.monotonic() + seconds if seconds else None
        self.expired = False
        self._sock = None
        self._done = False
        self._lock = threading.Lock()
        self._alarm: list | None = None

    def __enter__(self) -> "Deadline":
        if self.at is not None:
            self._alarm = _WATCHDOG.arm(self.at, self._expire)
        _current.deadline = self
        return self

    def __exit__(self, *exc) -> None:
        _current.deadline = None
        with self._lock:
            self._done = True  # a late timer must not shut a connection that went back to the pool
        if self._alarm is not None:
            _WATCHDOG.cancel(self._alarm)

    def passed(self) -> bool:
        return self.expired or (self.at is not None and time.monotonic() >= self.at)

    def watch(self, sock) -> None:
        with self._lock:
            self._sock = sock
            late = self.expired and not self._done
        if late:
            _shutdown(sock)

    def _expire(self) -> None:
        with self._lock:
            if self._done:
                return
            self.expired = True
            sock = self._sock
        if sock is not None:
            _shutdown(sock)


def check_deadline(progress: str) -> None:
    """Raise a retryable failure when the running attempt's deadline has passed."""
    deadline = getattr(_current, "deadline", None)
    if deadline is not None and deadline.passed():
        raise Retry(f"deadline of {deadline.seconds:g}s passed ({progress})")


def _shutdown(sock) -> None:
    try:
        sock.shutdown(2)  # socket.SHUT_RDWR: a read blocked in another thread returns at once
    except OSError:  # already closed
        pass


class _WatchedConnection(urllib3.connection.HTTPConnection):
    def getresponse(self):  # type: ignore[override]
        deadline = getattr(_current, "deadline", None)
        if deadline is not None and self.sock is not None:
            deadline.watch(self.sock)
        return super().getresponse()


class _WatchedHTTPSConnection(urllib3.connection.HTTPSConnection):
    getresponse = _WatchedConnection.getresponse


class _WatchedPool(urllib3.connectionpool.HTTPConnectionPool):
    ConnectionCls = _WatchedConnection


class _WatchedHTTPSPool(urllib3.connectionpool.HTTPSConnectionPool):
    ConnectionCls = _WatchedHTTPSConnection


class WatchedAdapter(requests.adapters.HTTPAdapter):
    """requests' adapter with connections that report their socket to the running attempt's deadline."""

    def init_poolmanager(self, *args, **kwargs) -> None:
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = {"http": _WatchedPool, "https": _WatchedHTTPSPool}
