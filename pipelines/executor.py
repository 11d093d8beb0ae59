"""Where per-shard work runs: a Dask cluster (local by default) or in-process.

- `scheduler=None` starts a `distributed.LocalCluster` with `workers` single-threaded processes;
- an address (`tcp://host:8786`, or MEDCURATE_SCHEDULER in the environment) uses an existing
  cluster through the same code path;
- `"sync"` runs tasks in this process, in order (tests, debugging, tiny inputs).
Work functions and their arguments must be picklable: pass paths and plain data, never open
files, parsers or sessions (see reference/ecosystem.md, Dask pitfalls).
"""
from __future__ import annotations

import logging
import os
import sys
import time
from typing import Any, Callable, Sequence

log = logging.getLogger("medcurate")

SCHEDULER_ENV = "MEDCURATE_SCHEDULER"
SYNC = "sync"


def default_workers() -> int:
    return max(1, os.cpu_count() or 1)


class Progress:
    """A bar on a terminal, plain log lines (about every 10%) otherwise."""

    def __init__(self, total: int, desc: str, enabled: bool = True):
        self.total, self.desc, self.done = total, desc, 0
        self._bar = None
        self._next_log = 0.0
        self._start = time.monotonic()
        if enabled and sys.stderr.isatty():
            from tqdm import tqdm

            self._bar = tqdm(total=total, desc=desc, unit="task", leave=False)

    def update(self, n: int = 1) -> None:
        self.done += n
        if self._bar is not None:
            self._bar.update(n)
        elif self.total and self.done / self.total >= self._next_log:
            log.info("%s: %d/%d tasks (%.1fs)", self.desc, self.done, self.total, time.monotonic() - self._start)
            self._next_log = self.done / self.total + 0.1

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()


class Executor:
    """Maps picklable functions over items on Dask or in-process; a context manager."""

    def __init__(self, workers: int | None = None, scheduler: str | None = None):
        self.workers = workers or default_workers()
        self.scheduler = scheduler or os.environ.get(SCHEDULER_ENV) or None
        self._client = None
        self._cluster = None

    @property
    def is_sync(self) -> bool:
        return self.scheduler == SYNC

    def __enter__(self) -> "Executor":
        if self.is_sync:
            return self
        from distributed import Client, LocalCluster

        # The scheduler of a local cluster lives in this process and logs every client and worker
        # it sees at INFO; our own progress lines say what matters.
        logging.getLogger("distributed").setLevel(logging.WARNING)
        if self.scheduler:
            self._client = Client(self.scheduler)
        else:
            self._cluster = LocalCluster(
                n_workers=self.workers,
                threads_per_worker=1,
                processes=True,
                dashboard_address=None,
                scheduler_kwargs={"dashboard": False},  # no web server nobody asked for
                host="127.0.0.1",
                silence_logs=logging.ERROR,
            )
            self._client = Client(self._cluster)
        return self

    def __exit__(self, *exc: Any) -> None:
        if self._client is not None:
            self._client.close()
        if self._cluster is not None:
            self._cluster.close()
        self._client = self._cluster = None

    def map(
        self,
        fn: Callable[..., Any],
        items: Sequence[Any],
        desc: str = "tasks",
        on_result: Callable[[int, Any], None] | None = None,
    ) -> list[Any]:
        """Run fn(item) for every item; results come back in the order of `items`.

        The first task that raises stops the map and re-raises; results of tasks that finished
        stay wherever they wrote them, so a re-run resumes from there.
        """
        results: list[Any] = [None] * len(items)
        progress = Progress(len(items), desc)
        try:
            if self.is_sync or self._client is None:
                for i, item in enumerate(items):
                    results[i] = fn(item)
                    if on_result:
                        on_result(i, results[i])
                    progress.update()
                return results
            from distributed import as_completed

            futures = self._client.map(fn, list(items), pure=False)
            index = {f.key: i for i, f in enumerate(futures)}
            for future in as_completed(futures):
                i = index[future.key]
                results[i] = future.result()
                if on_result:
                    on_result(i, results[i])
                progress.update()
            return results
        finally:
            progress.close()
