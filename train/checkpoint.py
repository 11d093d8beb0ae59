"""Distributed checkpoints (torch.distributed.checkpoint) for exact resume, and weights-only init.

A full checkpoint `step-NNNNNNNN/` holds, in DCP format (each rank writes its own shards):
- `model`, `optim`: sharded model and optimizer state (DCP reshards on load);
- `scheduler`, `train`: the LR schedule and the step/token counters (replicated);
- `rank_<r>`: per-rank pickled data-loader position and RNG states. Each rank has its own key
  because DCP deduplicates same-named replicated objects and keeps only one rank's copy;
plus `meta.json` (rank 0): the model shape and the run layout, read *before* loading so that a
mismatch gives a clear error instead of a shape error deep inside DCP.

A checkpoint is written into `step-N.tmp/` and renamed when every rank has finished, so an
interrupted save is never taken for the latest one.

Weights-only init (`init_from`) is separate: it loads model weights into a fresh run (new
optimizer, schedule at step 0, data from the start), from a Hugging Face folder or a step folder.
"""
from __future__ import annotations

import json
import pickle
import random
import re
import shutil
from pathlib import Path

import numpy as np
import torch
import torch.distributed as dist
import torch.distributed.checkpoint as dcp
from torch.distributed.checkpoint.state_dict import (
    StateDictOptions,
    get_model_state_dict,
    get_optimizer_state_dict,
    set_model_state_dict,
    set_optimizer_state_dict,
)

from train.config import ConfigError

STEP_DIR = re.compile(r"^step-(\d+)$")
META = "meta.json"


def rng_state() -> dict:
    state = {"python": random.getstate(), "numpy": np.random.get_state(), "torch": torch.get_rng_state()}
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state()
    return state


def set_rng_state(state: dict) -> None:
    random.setstate(state["python"])
    np.random.set_state(state["numpy"])
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state(state["cuda"])


def step_dir(folder: Path, step: int) -> Path:
    return Path(folder) / f"step-{step:08d}"


def latest_checkpoint(folder: Path) -> Path | None:
    folder = Path(folder)
    if not folder.is_dir():
        return None
    done = [p for p in folder.iterdir() if STEP_DIR.match(p.name) and (p / META).is_file() and (p / ".metadata").is_file()]
    return max(done, key=lambda p: int(STEP_DIR.match(p.name).group(1)), default=None)


def read_meta(path: Path) -> dict:
    meta_path = Path(path) / META
    if not meta_path.is_file():
        raise ConfigError(f"{path} is not a training checkpoint (no {META})")
    return json.loads(meta_path.read_text())


def check_compatible(meta: dict, model_args: dict, layout: dict, path: Path) -> None:
    """Refuse to resume a checkpoint whose model or run layout differs from this config."""
    diffs = [f"model.{k}: checkpoint {meta['model'].get(k)!r} != config {v!r}"
             for k, v in model_args.items() if meta["model"].get(k) != v and k != "init_std"]
    diffs += [f"{k}: checkpoint {meta['layout'].get(k)!r} != config {v!r}"
              for k, v in layout.items() if meta["layout"].get(k) != v]
    if diffs:
        raise ConfigError(f"checkpoint {path} does not match the config:\n  " + "\n  ".join(diffs))


class Checkpointer:
    def __init__(self, folder: Path, every: int, keep_last: int, rank: int, world_size: int):
        self.folder = Path(folder)
        self.every, self.keep_last = every, keep_last
        self.rank, self.world_size = rank, world_size

    def due(self, step: int, last: bool) -> bool:
        return last or (self.every > 0 and step % self.every == 0)

    def save(self, step: int, model, optimizer, scheduler, loader, train_state: dict, meta: dict) -> Path:
        final = step_dir(self.folder, step)
        tmp = final.with_name(final.name + ".tmp")
        if self.rank == 0:
            shutil.rmtree(tmp, ignore_errors=True)
        dist.barrier()
        state = {
            "model": get_model_state_dict(model),
            "optim": get_optimizer_state_dict(model, optimizer),
            "scheduler": scheduler.state_dict(),
            "train": dict(train_state),
            f"rank_{self.rank}": pickle.dumps({"data": loader.state_dict(), "rng": rng_state()}),
        }
        dcp.save(state, checkpoint_id=str(tmp))
        dist.barrier()
        if self.rank == 0:
            (tmp / META).write_text(json.dumps(meta | {"step": step}, indent=2, sort_keys=True) + "\n")
            shutil.rmtree(final, ignore_errors=True)
            tmp.rename(final)
            self._prune()
        dist.barrier()
        return final

    def _prune(self) -> None:
        if self.keep_last <= 0:
            return
        steps = sorted((p for p in self.folder.iterdir() if STEP_DIR.match(p.name)), key=lambda p: p.name)
        for old in steps[: -self.keep_last]:
            shutil.rmtree(old, ignore_errors=True)

    def load(self, path: Path, model, optimizer, scheduler, loader) -> dict:
        """Restore everything saved by `save`; returns the train state (step, tokens)."""
        state = {
            "model": get_model_state_dict(model),
            "optim": get_optimizer_state_dict(model, optimizer),
            "scheduler": scheduler.state_dict(),
            "train": {"step": 0, "tokens": 0},
            f"rank_{self.rank}": b"",
        }
        dcp.load(state, checkpoint_id=str(path))
        set_model_state_dict(model, state["model"])
        set_optimizer_state_dict(model, optimizer, state["optim"])
        scheduler.load_state_dict(state["scheduler"])
        per_rank = pickle.loads(state[f"rank_{self.rank}"])
        loader.load_state_dict(per_rank["data"])
        set_rng_state(per_rank["rng"])
        return state["train"]


def load_weights_only(path: Path, model) -> None:
    """Model weights from a step folder of a previous run (no optimizer, schedule or data state)."""
    state = {"model": get_model_state_dict(model)}
    dcp.load(state, checkpoint_id=str(path))
    set_model_state_dict(model, state["model"])


def load_full_weights(model, full_state: dict[str, torch.Tensor]) -> None:
    """A full (unsharded) state dict held by rank 0 only (the other ranks pass {}) into the
    sharded model: rank 0 broadcasts each tensor and every rank keeps its shard."""
    multi = dist.get_world_size() > 1
    options = StateDictOptions(full_state_dict=True, strict=True, broadcast_from_rank0=multi)
    set_model_state_dict(model, full_state, options=options)


def gather_full_weights(model) -> dict[str, torch.Tensor]:
    """The whole model on CPU on rank 0 (empty elsewhere), for export."""
    return get_model_state_dict(model, options=StateDictOptions(full_state_dict=True, cpu_offload=True))
