"""Where per-shard work runs: a Dask cluster (local by default) or in-process.

- `scheduler=None` starts a `distributed.LocalCluster` with `workers` single-threaded processes;
- an address (`tcp://host:8786`, or MEDCURATE_SCHEDULER in the environment) uses an existing
  cluster through the same code path;
- `"sync"` runs tasks in this process, in order (tests, debugging, tiny inputs).

A local cluster starts at the first `map`, not before: a stage first tells the executor how much
input it has (`size_to`), and an input too small to share out runs in this process instead
(starting the cluster and its workers costs about 2 CPU-s, more than a small file's work).
Work functions and their arguments must be picklable: pass paths and plain data, never open
files, parsers or sessions (see reference/ecosystem.md, Dask pitfalls).

Local workers start from a forkserver that has already imported the work code (see
`_start_workers_preloaded`): each spawned worker would otherwise import numpy, pyarrow, Dask and
our modules again, about 0.7 CPU-s per worker per command, more than the work of a small stage.
"""
from __future__ import annotations

import logging
import os
import sys
import time
from typing import Any, Callable, Sequence

from curation import storage

log = logging.getLogger("medcurate")

SCHEDULER_ENV = "MEDCURATE_SCHEDULER"
SYNC = "sync"


def default_workers() -> int:
    return max(1, os.cpu_count() or 1)


def workers_for(input_bytes: int, tasks: int, most: int, bytes_per_worker: int) -> int:
    """Local workers worth starting: one per whole `bytes_per_worker` of input (each worker's
    share of work should dwarf its start-up), at most one per task and at most `most`; 1 means
    run in-process."""
    by_size = input_bytes // bytes_per_worker if bytes_per_worker > 0 else most
    return max(1, min(most, tasks, by_size))


# Imported once in the forkserver, so that every local worker starts with them loaded. pandas is
# among them although no work of ours uses it: pyarrow imports it (when installed) on its first
# pa.array / pa.table call, 0.5 CPU-s per process.
_PRELOAD_LIBRARIES = ("distributed", "numpy", "pyarrow", "pyarrow.compute", "pyarrow.parquet", "pandas")
_WORK_PACKAGES = ("curation", "sources", "pipelines.stages", "pipelines.runner")


def _start_workers_preloaded() -> dict:
    """Start local workers by forking a server that holds the work code already imported.

    Dask's default ("spawn") starts every worker as a fresh interpreter; "fork" would copy this
    process with its Dask threads running (unsafe). A forkserver is single-threaded and forks
    cheaply. It preloads the libraries and every module of ours this command has imported (the
    stage it runs) and the main module (which each child would otherwise run again). Returns the
    Dask setting that makes workers use it; none while the setting is not its default, so a
    user's own `distributed.worker.multiprocessing-method` wins. The server lives as long as this
    process: a later cluster in the same process reuses it as it is.
    """
    import multiprocessing
    import multiprocessing.forkserver

    import dask
    import distributed.utils

    if dask.config.get("distributed.worker.multiprocessing-method") != "spawn":
        return {}
    if "forkserver" not in multiprocessing.get_all_start_methods():  # Windows
        return {}
    ours = sorted(m for m in sys.modules if m.startswith(_WORK_PACKAGES))
    multiprocessing.get_context("forkserver").set_forkserver_preload(["__main__", *_PRELOAD_LIBRARIES, *ours])
    # Dask gives each spawned worker these variables (one BLAS thread, ...); a forked worker keeps
    # the server's environment, so the server starts with them (all workers share its hash seed).
    environ = {k: str(v) for k, v in dask.config.get("distributed.nanny.pre-spawn-environ", {}).items()}
    saved = {k: os.environ.get(k) for k in environ}
    os.environ.update(environ)
    try:
        multiprocessing.forkserver.ensure_running()  # started now, with this list
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
    # Dask would otherwise import its own preload list here first (pandas among it, ~0.5 CPU-s)
    # for a server that is already running; if this private flag ever goes away, that is the
    # only cost.
    distributed.utils._forkserver_preload_set = True
    return {"distributed.worker.multiprocessing-method": "forkserver"}


# A local cluster of ours has no dashboard, so nobody reads the workers' statistical profiles
# (a stack sample every 10 ms); the event-loop health tick need not run 50 times a second. Both
# cost CPU in every process for as long as the cluster lives. Workers inherit this from the nanny.
_LOCAL_CLUSTER_CONFIG = {"distributed.worker.profile.enabled": False, "distributed.admin.tick.interval": "200ms"}


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
    """Maps picklable functions over items on Dask or in-process; a context manager.

    `bytes_per_worker` (the stage commands pass run.mb_per_worker): when set, `size_to` lowers the
    number of local workers to fit the input, down to none (in-process). Without it `workers`
    local workers start, whatever the input.
    """

    def __init__(self, workers: int | None = None, scheduler: str | None = None, bytes_per_worker: int | None = None):
        self.workers = workers or default_workers()
        self.scheduler = scheduler or os.environ.get(SCHEDULER_ENV) or None
        self.bytes_per_worker = bytes_per_worker
        self._client = None
        self._cluster = None
        self._config = None  # Dask settings of our local cluster, undone on exit

    @property
    def is_sync(self) -> bool:
        return self.scheduler == SYNC

    def size_to(self, paths: Sequence[str | os.PathLike] | None, tasks: int | None = None) -> None:
        """Fit the local workers to the stage's input (call before its first map).

        `paths`: the input files its tasks read (None when their size is not known: only the
        number of tasks counts); `tasks`: the most tasks one of its maps runs at once (default:
        one per path). An input that needs one worker runs in this process: no cluster, no worker
        start-up. An existing cluster (a scheduler address) or one already started stays as it is.
        """
        if self.bytes_per_worker is None or self.scheduler or self._client is not None:
            return
        paths = list(paths) if paths is not None else None
        tasks = tasks if tasks is not None else len(paths or ())
        size = sum(storage.file_size(p) or 0 for p in paths) if paths is not None else None  # paths or URLs
        per_worker = self.bytes_per_worker if size is not None else 0
        self.workers = workers_for(size or 0, tasks, self.workers, per_worker)
        if self.workers == 1:
            log.info("%s: running in-process", f"input of {size / 1e6:.1f} MB" if size is not None else "one task")
            self.scheduler = SYNC

    @property
    def client(self):
        """The Dask client, starting the local cluster the first time (None when in-process)."""
        if self._client is None and not self.is_sync:
            self._start()
        return self._client

    def __enter__(self) -> "Executor":
        return self

    def _start(self) -> None:
        from distributed import Client, LocalCluster

        # The scheduler of a local cluster lives in this process and logs every client and worker
        # it sees at INFO; our own progress lines say what matters.
        logging.getLogger("distributed").setLevel(logging.WARNING)
        if self.scheduler:
            self._client = Client(self.scheduler)
            return
        import dask

        self._config = dask.config.set({**_LOCAL_CLUSTER_CONFIG, **_start_workers_preloaded()})
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

    def __exit__(self, *exc: Any) -> None:
        if self._client is not None:
            self._client.close()
        if self._cluster is not None:
            self._cluster.close()
        if self._config is not None:
            self._config.__exit__(None, None, None)
        self._client = self._cluster = self._config = None

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
            client = self.client
            if client is None:
                for i, item in enumerate(items):
                    results[i] = fn(item)
                    if on_result:
                        on_result(i, results[i])
                    progress.update()
                return results
            from distributed import as_completed

            futures = client.map(fn, list(items), pure=False)
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
