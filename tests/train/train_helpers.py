"""Helpers for the training tests: torchrun on 127.0.0.1, a tiny config, reading logged losses."""
from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import yaml

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def torchrun(args: list[str], nproc: int = 2, timeout: int = 180) -> subprocess.CompletedProcess:
    cmd = [sys.executable, "-m", "torch.distributed.run", f"--nproc_per_node={nproc}", "--nnodes=1",
           "--master_addr=127.0.0.1", f"--master_port={free_port()}", *args]
    env = os.environ | {"OMP_NUM_THREADS": "1", "PYTHONWARNINGS": "ignore"}
    proc = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, timeout=timeout, env=env)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-6000:]
    return proc


def tiny_config(path: Path, mix_dir: Path, tokenizer_dir: Path, run_dir: Path, **overrides) -> Path:
    config = {
        "model": {"vocab_size": 512, "dim": 64, "n_layers": 2, "n_heads": 4, "n_kv_heads": 2, "hidden_dim": 160,
                  "max_seq_len": 64},
        "data": {"train": str(mix_dir / "train"), "validation": str(mix_dir / "validation"),
                 "tokenizer": str(tokenizer_dir / "tokenizer.model"), "seq_len": 64, "micro_batch_size": 4,
                 "num_workers": 2, "seed": 5},
        "optim": {"lr": 3e-3, "warmup_steps": 3, "min_lr_ratio": 0.1, "horizon_steps": 40},
        "checkpoint": {"folder": str(run_dir / "ckpt"), "every": 6, "keep_last": 0,
                       "export_hf": str(run_dir / "hf"), "export_dtype": "float32"},
        "metrics": {"folder": str(run_dir), "dvc_metrics": str(run_dir / "metrics.json"), "val_batches": 2},
        "steps": 12,
        "global_batch_tokens": 2 * 4 * 64 * 2,  # 2 ranks x 4 rows x 64 tokens x 2 micro-batches
        "seed": 1,
    }
    for dotted, value in overrides.items():
        node = config
        *parents, leaf = dotted.split(".")
        for key in parents:
            node = node[key]
        node[leaf] = value
    path.write_text(yaml.safe_dump(config))
    return path


def losses(run_dir: Path) -> dict[int, float]:
    rows = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]
    return {r["step"]: r["loss"] for r in rows}
