"""A per-host rate limit shared by every thread of one client."""
from __future__ import annotations

import threading
import time
from typing import Callable, Mapping

# NCBI's published limit without a key; E-utilities callers raise it to 10/s when they hold one.
DEFAULT_RATES = {"eutils.ncbi.nlm.nih.gov": 3.0}


class RateLimiter:
    """A minimum interval between requests to the same host (a token bucket of size one).

    Each call reserves the next free slot under a lock and sleeps outside it, so threads sharing a
    client are spaced out correctly without serialising their transfers.
    """

    def __init__(
        self,
        rates: Mapping[str, float] | None = None,
        default: float | None = None,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ):
        self._rates = {host.lower(): rate for host, rate in (rates or {}).items()}
        self._default = default
        self._next: dict[str, float] = {}
        self._lock = threading.Lock()
        self._clock = clock
        self._sleep = sleep

    def set_rate(self, host: str, per_second: float | None) -> None:
        with self._lock:
            self._rates[host.lower()] = per_second

    def rate(self, host: str) -> float | None:
        return self._rates.get(host.lower(), self._default)

    def wait(self, host: str) -> float:
        """Block until a request to `host` is allowed; returns the seconds waited."""
        host = host.lower()
        rate = self.rate(host)
        if not rate:
            return 0.0
        with self._lock:
            now = self._clock()
            slot = max(now, self._next.get(host, now))
            self._next[host] = slot + 1.0 / rate
        delay = slot - now
        if delay > 0:
            self._sleep(delay)
        return delay
