"""Distributed setup and everything applied to the model from outside: AC, compile, FSDP2.

Order matters (torchtitan): activation checkpointing wraps each block, compile then compiles each
block, and FSDP shards each block and finally the root. A block is the FSDP unit, so one
all-gather brings one layer's weights and the next can be prefetched during compute. The root
holds what is left: the embedding, the final norm and the output head. Keeping those three in one
group is also what makes tied embeddings work, since a tied weight must live in a single group.

The same code path runs on one process: `init_distributed` then creates a 1-rank group, so FSDP,
DCP and the loss normalisation behave identically on a laptop and on a cluster.
"""
from __future__ import annotations

import logging
import os
from dataclasses import dataclass

import torch
import torch.distributed as dist
from torch.distributed.device_mesh import DeviceMesh, init_device_mesh

from train.config import ParallelConfig

# The oldest torch train/ runs on: FSDP2's `fully_shard` and `MixedPrecisionPolicy` became public in
# torch.distributed.fsdp in 2.6 (PR #141868); before, they lived under the private `_composable`.
# setup.cfg's torch requirement states the same floor (tests/train/test_train_torch_floor.py).
TORCH_FLOOR = "2.6"
try:
    from torch.distributed.fsdp import MixedPrecisionPolicy, fully_shard
except ImportError as exc:  # a clear message instead of "cannot import name 'fully_shard'"
    raise ImportError(f"train/ needs torch>={TORCH_FLOOR} (FSDP2 fully_shard); this is torch {torch.__version__}") from exc

log = logging.getLogger(__name__)


@dataclass
class DistInfo:
    rank: int
    world_size: int
    local_rank: int
    device: torch.device
    mesh: DeviceMesh

    @property
    def is_main(self) -> bool:
        return self.rank == 0


def pick_device(requested: str, local_rank: int) -> torch.device:
    if requested == "cpu" or (requested == "auto" and not torch.cuda.is_available()):
        return torch.device("cpu")
    if not torch.cuda.is_available():
        raise RuntimeError("device: cuda was requested but CUDA is not available")
    return torch.device("cuda", local_rank)


def init_distributed(device_request: str = "auto") -> DistInfo:
    """Join torchrun's process group (env vars), or create a 1-rank group for a plain process.

    nccl on CUDA, gloo on CPU. FSDP2 works on gloo (reference/training.md §0).
    """
    launched = "RANK" in os.environ and "WORLD_SIZE" in os.environ
    local_rank = int(os.environ.get("LOCAL_RANK", 0)) if launched else 0
    device = pick_device(device_request, local_rank)
    if device.type == "cuda":
        torch.cuda.set_device(device)
    backend = "nccl" if device.type == "cuda" else "gloo"
    if not dist.is_initialized():
        if launched:
            dist.init_process_group(backend=backend, device_id=device if device.type == "cuda" else None)
        else:
            # A one-process group needs no rendezvous: an in-memory store is enough.
            dist.init_process_group(backend=backend, store=dist.HashStore(), rank=0, world_size=1)
    world = dist.get_world_size()
    mesh = init_device_mesh(device.type, (world,), mesh_dim_names=("fsdp",))
    return DistInfo(dist.get_rank(), world, local_rank, device, mesh)


def destroy_distributed() -> None:
    if dist.is_initialized():
        dist.destroy_process_group()


def compute_dtype(cfg: ParallelConfig, device: torch.device) -> torch.dtype:
    """The dtype the model computes in (what attention sees): bf16 under bf16 mixed precision."""
    mode = cfg.mixed_precision
    if mode == "auto":
        mode = "bf16" if device.type == "cuda" else "fp32"
    return torch.bfloat16 if mode == "bf16" else torch.float32


def mixed_precision(cfg: ParallelConfig, device: torch.device) -> MixedPrecisionPolicy:
    if compute_dtype(cfg, device) == torch.bfloat16:
        # bf16 compute and all-gathers; gradients reduced in fp32 so that summing many ranks'
        # small contributions does not lose bits; the sharded master weights stay fp32.
        return MixedPrecisionPolicy(param_dtype=torch.bfloat16, reduce_dtype=torch.float32)
    return MixedPrecisionPolicy()


def apply_activation_checkpointing(model: torch.nn.Module) -> None:
    """Recompute each block in backward instead of keeping its activations (full AC per block)."""
    from torch.distributed.algorithms._checkpoint.checkpoint_wrapper import checkpoint_wrapper

    for name, block in list(model.layers.items()):
        model.layers[name] = checkpoint_wrapper(block, preserve_rng_state=False)


def apply_compile(model: torch.nn.Module) -> None:
    """Compile block by block: the blocks are identical, so one compilation serves them all."""
    for name, block in list(model.layers.items()):
        model.layers[name] = torch.compile(block, fullgraph=True)


def apply_fsdp(model: torch.nn.Module, mesh: DeviceMesh, cfg: ParallelConfig, device: torch.device) -> None:
    mp = mixed_precision(cfg, device)
    for block in model.layers.values():
        fully_shard(block, mesh=mesh, mp_policy=mp, reshard_after_forward=cfg.reshard_after_forward)
    # The root's parameters are needed again right at the start of backward (the head), so
    # resharding them after forward would only add an all-gather.
    fully_shard(model, mesh=mesh, mp_policy=mp, reshard_after_forward=False)
    # Note: torchtitan sets `set_gradient_divide_factor(1.0)` and divides the loss by the global
    # token count. gloo has no ReduceOp.PREMUL_SUM, so we keep FSDP's mean over ranks and scale
    # the loss per rank instead (trainer.py); the gradient is the same.


def parallelize(model: torch.nn.Module, dist_info: DistInfo, cfg: ParallelConfig) -> torch.nn.Module:
    if cfg.activation_checkpointing:
        apply_activation_checkpointing(model)
    if cfg.compile:
        apply_compile(model)
    apply_fsdp(model, dist_info.mesh, cfg, dist_info.device)
    return model


def all_reduce_mean(value: float, device: torch.device) -> float:
    t = torch.tensor([value], dtype=torch.float64, device=device)
    dist.all_reduce(t, op=dist.ReduceOp.SUM)
    return t.item() / dist.get_world_size()


def all_reduce_max(value: float, device: torch.device) -> float:
    t = torch.tensor([value], dtype=torch.float64, device=device)
    dist.all_reduce(t, op=dist.ReduceOp.MAX)
    return t.item()


def all_gather_objects(value):
    """Every rank's `value` (picklable), in rank order."""
    out = [None] * dist.get_world_size()
    dist.all_gather_object(out, value)
    return out
