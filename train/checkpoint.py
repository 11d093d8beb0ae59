"""Distributed checkpoints (torch.distributed.checkpoint) for exact resume, and weights-only init.

A full checkpoint `step-NNNNNNNN/` holds, in DCP format (each rank writes its own shards):
- `model`, `optim`: sharded model and optimizer state (DCP reshards on load);
- `scheduler`, `train`: the LR schedule and the step/token counters (replicated);
- `rank_<r>`: per-rank pickled data-loader position and RNG states. Each rank has its own key
  because DCP deduplicates same-named replicated objects and keeps only one rank's copy;
plus `meta.json` (rank 0): the model shape and the run layout, read *before* loading so that a
mismatch gives a clear error instead of a shape error deep inside DCP.

The folder may be local or a URL (s3://, gs://, az://: curation.storage; DCP writes there through
its fsspec writer). Object stores have no rename, so completion is said by a marker written last,
the same way on every store: the ranks write the DCP files into `step-N/`, then rank 0 writes
`meta.json`. A step folder without `meta.json` (a save that was interrupted) is never taken for
the latest checkpoint; the next save of that step, or pruning, removes it. A save first removes
the old `meta.json` of its folder, so a reader never trusts a folder that is being rewritten.

Weights-only init (`init_from`) is separate: it loads model weights into a fresh run (new
optimizer, schedule at step 0, data from the start), from a Hugging Face folder or a step folder.
"""
from __future__ import annotations

import os
import pickle
import random
import re

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

from curation import storage
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


def step_dir(folder: str | os.PathLike, step: int) -> str:
    return storage.join(folder, f"step-{step:08d}")


def is_complete(path: str) -> bool:
    """Both DCP's own `.metadata` (rank 0 writes it once every rank has written) and our marker."""
    return storage.isfile(storage.join(path, META)) and storage.isfile(storage.join(path, ".metadata"))


def step_folders(folder: str | os.PathLike) -> list[tuple[int, str]]:
    """(step, location) of every step folder, complete or not, by step."""
    found = [(int(m.group(1)), p) for p in storage.folders(folder) if (m := STEP_DIR.match(storage.name(p)))]
    return sorted(found)


def latest_checkpoint(folder: str | os.PathLike) -> str | None:
    return next((p for _, p in reversed(step_folders(folder)) if is_complete(p)), None)


def read_meta(path: str | os.PathLike) -> dict:
    meta_path = storage.join(path, META)
    if not storage.isfile(meta_path):
        raise ConfigError(f"{os.fspath(path)} is not a complete training checkpoint (no {META})")
    return storage.read_json(meta_path)


def _dcp_storage(path: str, write: bool) -> dict:
    """The `checkpoint_id` (local) or fsspec storage writer/reader (URL) for dcp.save/load.

    Remote files skip fsync: an upload is durable once closed, and DCP's fallback for a stream
    without a file descriptor would be an os.sync() of the whole machine per file."""
    if storage.is_local(path):
        return {"checkpoint_id": storage.local_path(path)}
    from torch.distributed.checkpoint._fsspec_filesystem import FsspecReader, FsspecWriter

    # The options curation.storage opens its stores with (no listing cache: the ranks and a re-run
    # rewrite these folders), so that fsspec hands DCP the same cached client.
    options = storage.options_for(storage.protocol(path)) | {"use_listings_cache": False}
    if write:
        return {"storage_writer": FsspecWriter(path, sync_files=False, **options)}
    return {"storage_reader": FsspecReader(path, **options)}


def check_compatible(meta: dict, model_args: dict, layout: dict, path: str) -> None:
    """Refuse to resume a checkpoint whose model or run layout differs from this config."""
    diffs = [f"model.{k}: checkpoint {meta['model'].get(k)!r} != config {v!r}"
             for k, v in model_args.items() if meta["model"].get(k) != v and k != "init_std"]
    diffs += [f"{k}: checkpoint {meta['layout'].get(k)!r} != config {v!r}"
              for k, v in layout.items() if meta["layout"].get(k) != v]
    if diffs:
        raise ConfigError(f"checkpoint {path} does not match the config:\n  " + "\n  ".join(diffs))


class Checkpointer:
    def __init__(self, folder: str | os.PathLike, every: int, keep_last: int, rank: int, world_size: int):
        self.folder = storage.norm(folder)
        self.every, self.keep_last = every, keep_last
        self.rank, self.world_size = rank, world_size

    def due(self, step: int, last: bool) -> bool:
        return last or (self.every > 0 and step % self.every == 0)

    def save(self, step: int, model, optimizer, scheduler, loader, train_state: dict, meta: dict) -> str:
        final = step_dir(self.folder, step)
        if self.rank == 0:  # the marker first: a folder being rewritten is never trusted
            storage.remove(storage.join(final, META))
            storage.remove_tree(final)
            storage.makedirs(final)
        dist.barrier()
        state = {
            "model": get_model_state_dict(model),
            "optim": get_optimizer_state_dict(model, optimizer),
            "scheduler": scheduler.state_dict(),
            "train": dict(train_state),
            f"rank_{self.rank}": pickle.dumps({"data": loader.state_dict(), "rng": rng_state()}),
        }
        dcp.save(state, **_dcp_storage(final, write=True))
        dist.barrier()
        if self.rank == 0:
            storage.write_json(storage.join(final, META), meta | {"step": step})
            self._prune()
        dist.barrier()
        return final

    def _prune(self) -> None:
        """Keep the `keep_last` latest complete checkpoints; remove older ones and interrupted saves."""
        if self.keep_last <= 0:
            return
        complete = [p for _, p in step_folders(self.folder) if is_complete(p)]
        keep = set(complete[-self.keep_last:])
        for _, old in step_folders(self.folder):
            if old not in keep:
                storage.remove(storage.join(old, META))
                storage.remove_tree(old)

    def load(self, path: str, model, optimizer, scheduler, loader) -> dict:
        """Restore everything saved by `save`; returns the train state (step, tokens)."""
        state = {
            "model": get_model_state_dict(model),
            "optim": get_optimizer_state_dict(model, optimizer),
            "scheduler": scheduler.state_dict(),
            "train": {"step": 0, "tokens": 0},
            f"rank_{self.rank}": b"",
        }
        dcp.load(state, **_dcp_storage(storage.norm(path), write=False))
        set_model_state_dict(model, state["model"])
        set_optimizer_state_dict(model, optimizer, state["optim"])
        scheduler.load_state_dict(state["scheduler"])
        per_rank = pickle.loads(state[f"rank_{self.rank}"])
        loader.load_state_dict(per_rank["data"])
        set_rng_state(per_rank["rng"])
        return state["train"]


def load_weights_only(path: str | os.PathLike, model) -> None:
    """Model weights from a step folder of a previous run (no optimizer, schedule or data state)."""
    state = {"model": get_model_state_dict(model)}
    dcp.load(state, **_dcp_storage(storage.norm(path), write=False))
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
