"""Peak memory of code run in a fresh interpreter: what a stage costs, measured as the OS sees it."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]

# VmHWM: the peak RSS of this process's own memory since its exec. (ru_maxrss is not: on Linux
# it keeps the high-water mark of the forking parent, a test runner of several hundred MB.)
_REPORT = ("\nprint('PEAK_RSS_KB', next(int(line.split()[1]) for line in open('/proc/self/status')"
           " if line.startswith('VmHWM:')))\n")


def run_measured(code: str, timeout: float = 600) -> tuple[str, float]:
    """Run `code` (the repository importable) in a new Python; its stdout and peak RSS in MiB."""
    done = subprocess.run([sys.executable, "-c", code + _REPORT], cwd=REPO, capture_output=True, text=True,
                          timeout=timeout, env={**os.environ, "PYTHONPATH": str(REPO)})
    assert done.returncode == 0, done.stderr[-3000:]
    out, _, peak = done.stdout.rpartition("PEAK_RSS_KB ")
    return out, int(peak) / 1024
