"""The RNG states a checkpoint holds: the same in every run of a config, and after a resume.

Each run is its own `python -m train.launch` process, as in production: Python's and NumPy's
generators start from OS entropy there, so only seeding makes them agree.
"""
import pickle
import subprocess
import sys

import numpy as np
import torch
import torch.distributed.checkpoint as dcp

from train_helpers import REPO, tiny_config


def launch(config, *overrides):
    cmd = [sys.executable, "-m", "train.launch", "--config", str(config), *[f"--set={o}" for o in overrides]]
    proc = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-4000:]


def rng_at(run_dir, step):
    state = {"rank_0": b""}
    dcp.load(state, checkpoint_id=str(run_dir / "ckpt" / f"step-{step:08d}"), no_dist=True)
    return pickle.loads(state["rank_0"])["rng"]


def assert_same(a, b, what):
    assert a["python"] == b["python"], f"{what}: Python's generator differs"
    assert all(np.array_equal(x, y) if isinstance(x, np.ndarray) else x == y
               for x, y in zip(a["numpy"], b["numpy"])), f"{what}: NumPy's generator differs"
    assert torch.equal(a["torch"], b["torch"]), f"{what}: torch's generator differs"


def test_checkpoint_rng_is_seeded_and_exact_after_resume(mix_dir, tokenizer_dir, tmp_path):
    def config(name):
        (tmp_path / name).mkdir()
        return tiny_config(tmp_path / name / "config.yaml", mix_dir, tokenizer_dir, tmp_path / name, **{
            "steps": 6, "global_batch_tokens": None, "checkpoint.every": 3, "checkpoint.export_hf": None,
            "checkpoint.resume": "auto", "metrics.val_batches": 1, "data.num_workers": 0})

    launch(config("first"))
    launch(config("second"))
    assert_same(rng_at(tmp_path / "first", 6), rng_at(tmp_path / "second", 6), "two runs of one config")

    resumed = config("resumed")
    launch(resumed, "steps=3")
    launch(resumed)  # resume: auto continues from step 3 to 6
    assert_same(rng_at(tmp_path / "first", 6), rng_at(tmp_path / "resumed", 6), "a run resumed at step 3")
