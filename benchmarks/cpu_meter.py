"""CPU seconds of a command and of every process it starts, wherever they end up in the tree.

`getrusage(RUSAGE_CHILDREN)` only counts descendants that were waited for. Dask's local workers
start from a multiprocessing forkserver, which this command never waits for, so their CPU would
be missed. The meter therefore uses, in order of preference:

- a cgroup (v1 `cpuacct`, writable when running as root): the command is moved into its own
  group before it starts, and the group's usage counts every descendant exactly;
- the machine's busy time (/proc/stat) while the command runs: never less than the command's own
  CPU, more when anything else is busy (run on an otherwise idle machine).

`method` says which one measured.
"""
from __future__ import annotations

import os
import subprocess
import time
import uuid
from pathlib import Path

CPUACCT = Path("/sys/fs/cgroup/cpuacct")


def _machine_busy_s() -> float:
    with open("/proc/stat") as handle:
        fields = [int(v) for v in handle.readline().split()[1:]]
    idle = fields[3] + fields[4]  # idle + iowait
    return (sum(fields) - idle) / os.sysconf("SC_CLK_TCK")


def _new_cgroup() -> Path | None:
    if not os.access(CPUACCT, os.W_OK):
        return None
    group = CPUACCT / f"medcurate-bench-{uuid.uuid4().hex[:8]}"
    try:
        group.mkdir()
    except OSError:
        return None
    return group


class Measured(subprocess.Popen):
    """A Popen whose `cpu_s()` is the CPU of the process and all its descendants."""

    def __init__(self, args, **kwargs):
        self._group = _new_cgroup()
        self.method = "cgroup cpuacct" if self._group else "machine busy time (/proc/stat)"
        group = self._group

        def enter_group() -> None:  # runs in the child, before exec
            if group is not None:
                (group / "cgroup.procs").write_text(str(os.getpid()))

        self._busy_start = _machine_busy_s()
        self.started = time.monotonic()
        super().__init__(args, preexec_fn=enter_group, **kwargs)

    def cpu_s(self) -> float:
        """After the command ended (wait for its stragglers: a forkserver exits just after)."""
        if self._group is None:
            return _machine_busy_s() - self._busy_start
        usage = self._group / "cpuacct.usage"
        for _ in range(50):
            if not (self._group / "cgroup.procs").read_text().strip():
                break
            time.sleep(0.1)
        cpu = int(usage.read_text()) / 1e9
        try:
            self._group.rmdir()
        except OSError:  # a straggler still in it: the group stays, the number is still right
            pass
        return cpu
