"""AdamW, the learning-rate schedule, gradient accumulation arithmetic and MEDITRON's recipes."""
from __future__ import annotations

import math

import torch

from train.config import ConfigError, OptimConfig

# MEDITRON (paper §4.1, App. D.1; reference/meditron.md §4.2). The horizon is 2 epochs of the
# GAP-Replay train split (46.7B tokens) although 1 epoch is trained, so the LR ends high.
GAP_REPLAY_TRAIN_TOKENS = 46_700_000_000
OPTIM_PRESETS: dict[str, dict] = {
    "meditron-7b": dict(lr=3e-4, min_lr_ratio=0.1, betas=(0.9, 0.95), eps=1e-5, weight_decay=0.1, grad_clip=1.0,
                        warmup_steps=2000, horizon_tokens=2 * GAP_REPLAY_TRAIN_TOKENS),
    "meditron-70b": dict(lr=1.5e-4, min_lr_ratio=0.1, betas=(0.9, 0.95), eps=1e-5, weight_decay=0.1, grad_clip=1.0,
                         warmup_steps=2000, horizon_tokens=2 * GAP_REPLAY_TRAIN_TOKENS),
}


def resolve_preset(cfg: OptimConfig, explicit: set[str] | None = None) -> OptimConfig:
    """Fill `cfg` from its preset; keys set explicitly in the YAML (`explicit`) win."""
    if not cfg.preset:
        return cfg
    if cfg.preset not in OPTIM_PRESETS:
        raise ConfigError(f"unknown optim preset {cfg.preset!r}; known: {sorted(OPTIM_PRESETS)}")
    for key, value in OPTIM_PRESETS[cfg.preset].items():
        if explicit is None or key not in explicit:
            setattr(cfg, key, value)
    return cfg


def accumulation_steps(global_batch_tokens: int | None, world_size: int, micro_batch_size: int, seq_len: int) -> int:
    """Micro-batches per optimizer step so that one step sees `global_batch_tokens` tokens."""
    per_micro = world_size * micro_batch_size * seq_len
    if global_batch_tokens is None:
        return 1
    if global_batch_tokens % per_micro:
        raise ConfigError(
            f"global_batch_tokens {global_batch_tokens} is not a multiple of world_size x micro_batch_size x "
            f"seq_len = {world_size} x {micro_batch_size} x {seq_len} = {per_micro}"
        )
    return global_batch_tokens // per_micro


def horizon(cfg: OptimConfig, steps: int, tokens_per_step: int) -> int:
    """Steps over which the cosine decays: explicit steps, tokens / batch, or the steps trained."""
    if cfg.horizon_steps is not None:
        return cfg.horizon_steps
    if cfg.horizon_tokens is not None:
        return max(1, cfg.horizon_tokens // tokens_per_step)
    return steps


def lr_lambda(step: int, warmup: int, horizon_steps: int, min_ratio: float) -> float:
    """Multiplier of the peak LR at `step` (0-based count of optimizer steps already taken).

    Linear warmup to the peak over `warmup` steps, then a cosine from the peak down to
    `min_ratio * peak` at `horizon_steps`, flat after it.
    """
    if warmup and step < warmup:
        return (step + 1) / warmup
    if horizon_steps <= warmup:
        return 1.0
    progress = min(1.0, (step - warmup) / (horizon_steps - warmup))
    return min_ratio + (1.0 - min_ratio) * 0.5 * (1.0 + math.cos(math.pi * progress))


def build_optimizer(model: torch.nn.Module, cfg: OptimConfig, device: torch.device) -> torch.optim.AdamW:
    # No weight decay on norms (1-D gains), as in Megatron and Llama; decay the matrices.
    decay = [p for p in model.parameters() if p.requires_grad and p.ndim >= 2]
    no_decay = [p for p in model.parameters() if p.requires_grad and p.ndim < 2]
    groups = [{"params": decay, "weight_decay": cfg.weight_decay}, {"params": no_decay, "weight_decay": 0.0}]
    kwargs = {"fused": True} if device.type == "cuda" else {"foreach": True}
    return torch.optim.AdamW(groups, lr=cfg.lr, betas=tuple(cfg.betas), eps=cfg.eps, **kwargs)


def build_scheduler(optimizer, cfg: OptimConfig, horizon_steps: int) -> torch.optim.lr_scheduler.LambdaLR:
    warmup, ratio = cfg.warmup_steps, cfg.min_lr_ratio
    return torch.optim.lr_scheduler.LambdaLR(optimizer, lambda step: lr_lambda(step, warmup, horizon_steps, ratio))
