"""benchmarks/train_gpu.py: its CPU smoke mode runs the benchmark's code path; without CUDA it stops clearly."""
import json
import subprocess
import sys

import pytest
import torch

from train_helpers import REPO

SCRIPT = REPO / "benchmarks" / "train_gpu.py"


def run(*args):
    return subprocess.run([sys.executable, str(SCRIPT), *args], cwd=REPO, capture_output=True, text=True, timeout=300,
                          env={"OMP_NUM_THREADS": "1", "PATH": "/usr/bin:/bin"})


def test_cpu_smoke_runs_fsdp_training_and_writes_json_and_table(tmp_path):
    proc = run("--cpu-smoke", "--out", str(tmp_path))
    assert proc.returncode == 0, proc.stderr[-3000:]
    report = json.loads((tmp_path / "train_gpu_cpu_smoke.json").read_text())
    setup, results = report["setup"], report["results"]
    assert setup["cpu_smoke"] and setup["fsdp_world_size"] == 1 and setup["documents_per_row"] > 2  # packed
    sdpa = results["sdpa"]
    assert sdpa["tokens_per_s"] > 0 and sdpa["peak_memory_gb"] > 0 and sdpa["mfu"] is None  # no CPU peak
    assert sdpa["loss_last"] < sdpa["loss_first"]  # it trains
    assert sdpa["logits"]["rel_l2_vs_sdpa"] == 0.0 and sdpa["logits"]["agrees"]
    assert "CUDA-only" in results["flash_attn"]["unavailable"] and "CUDA-only" in results["varlen"]["unavailable"]
    table = (tmp_path / "train_gpu_cpu_smoke.md").read_text()
    assert "CPU smoke run: not a GPU measurement" in table and "| sdpa |" in table


@pytest.mark.skipif(torch.cuda.is_available(), reason="with CUDA the script would run the real benchmark")
def test_without_cuda_it_stops_with_a_clear_message(tmp_path):
    proc = run("--out", str(tmp_path))
    assert proc.returncode == 2
    assert "needs a CUDA GPU: torch.cuda.is_available() is False" in proc.stderr and "--cpu-smoke" in proc.stderr
    assert not list(tmp_path.iterdir())
