"""The command as README runs it, measured beside a peer in alternating rounds.

A user runs `medcurate ...`, not a library call: the figure that counts is the CPU of the command
and of every process it starts (interpreter start, imports, a Dask cluster when the stage starts
one), counted by `cpu_meter.Measured`. Peers run in this process (`time.process_time`), as a
user of the library would call them. Contenders take turns within every round, the order
flipping each round, so that load from other work on a shared machine falls on all of them;
every round is kept, with the ratios per round and best-of.
"""
from __future__ import annotations

import subprocess
import time
from pathlib import Path
from typing import Callable

from benchmarks.cpu_meter import Measured

REPO = Path(__file__).resolve().parents[1]
MEDCURATE = REPO / ".venv" / "bin" / "medcurate"
METHODS: set[str] = set()  # how command CPU was measured (cgroup or machine busy time)


def command_cpu(args: list[str], cwd: Path = REPO) -> float:
    """CPU seconds of `medcurate ARGS` and everything it started; raises when it fails."""
    proc = Measured([str(MEDCURATE), *args], cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, err = proc.communicate()
    if proc.returncode:
        raise SystemExit(f"medcurate {' '.join(args)} failed ({proc.returncode}): {err.decode()[-2000:]}")
    METHODS.add(proc.method)
    return proc.cpu_s()


def process_cpu(fn: Callable[[], object]) -> float:
    start = time.process_time()
    fn()
    return time.process_time() - start


def alternate(contenders: dict[str, Callable[[], float]], rounds: int) -> dict[str, list[float]]:
    """CPU seconds of each contender in every round; the order flips each round."""
    names = list(contenders)
    seconds: dict[str, list[float]] = {name: [] for name in names}
    for r in range(rounds):
        for name in names if r % 2 == 0 else names[::-1]:
            seconds[name].append(round(contenders[name](), 3))
    return seconds


def ratios(seconds: dict[str, list[float]], peer: str, units: int) -> dict:
    """Per contender: best CPU s, units per CPU-s, and its speed over the peer's (same work), best-of
    and per round."""
    out = {}
    for name, values in seconds.items():
        out[name] = {"cpu_s_rounds": values, "cpu_s_best": min(values), "per_cpu_s": round(units / min(values), 1)}
        if name != peer:
            out[name]["vs_" + peer] = round(min(seconds[peer]) / min(values), 2)
            out[name]["vs_" + peer + "_per_round"] = [round(p / v, 2) for p, v in zip(seconds[peer], values)]
    return out
