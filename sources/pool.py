"""A bounded thread pool over a stream of work: for I/O-bound fetches sharing one HTTP client."""
from __future__ import annotations

from concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor, wait
from typing import Callable, Iterable, Iterator, TypeVar

T = TypeVar("T")
R = TypeVar("R")


def bounded_map(work: Callable[[T], R], items: Iterable[T], workers: int) -> Iterator[R]:
    """`work` over items on `workers` threads, at most 2 x workers in flight, results as they finish.

    `items` is consumed in the calling thread, so it may use what belongs to that thread (an SQLite
    connection, e.g. a store's manifest).
    """
    with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
        pending: set = set()
        for item in items:
            pending.add(pool.submit(work, item))
            if len(pending) >= 2 * max(1, workers):
                done, pending = wait(pending, return_when=FIRST_COMPLETED)
                yield from (future.result() for future in done)
        while pending:
            done, pending = wait(pending, return_when=FIRST_COMPLETED)
            yield from (future.result() for future in done)
