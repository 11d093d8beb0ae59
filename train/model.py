"""A Llama-architecture decoder in plain PyTorch: RMSNorm, RoPE, SwiGLU, grouped-query attention.

No distributed code lives here: FSDP, activation checkpointing and compile are applied from the
outside (train/parallel.py), so this file reads like the architecture and nothing else.

RoPE uses the "rotate half" layout (first half of each head dimension paired with the second
half), which is the layout of Hugging Face Llama checkpoints, so their q/k weights load without
the permutation that Meta's interleaved layout would need.
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass, fields

import torch
import torch.nn as nn
import torch.nn.functional as F

from train.attention import AttnMeta, attention


@dataclass
class ModelArgs:
    vocab_size: int = 32000
    dim: int = 4096
    n_layers: int = 32
    n_heads: int = 32
    n_kv_heads: int | None = None  # None = n_heads (no GQA)
    hidden_dim: int = 11008  # SwiGLU inner size
    norm_eps: float = 1e-5
    rope_theta: float = 10000.0
    max_seq_len: int = 4096
    tie_embeddings: bool = False
    init_std: float = 0.02

    def __post_init__(self):
        if self.n_kv_heads is None:
            self.n_kv_heads = self.n_heads
        if self.dim % self.n_heads:
            raise ValueError(f"dim {self.dim} is not divisible by n_heads {self.n_heads}")
        if self.n_heads % self.n_kv_heads:
            raise ValueError(f"n_heads {self.n_heads} is not a multiple of n_kv_heads {self.n_kv_heads}")
        if (self.dim // self.n_heads) % 2:
            raise ValueError("the head dimension must be even for RoPE")

    @property
    def head_dim(self) -> int:
        return self.dim // self.n_heads

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, values: dict) -> "ModelArgs":
        names = {f.name for f in fields(cls)}
        unknown = set(values) - names - {"preset"}
        if unknown:
            raise ValueError(f"unknown model settings: {sorted(unknown)}")
        base = dict(MODEL_PRESETS[values["preset"]]) if values.get("preset") else {}
        base.update({k: v for k, v in values.items() if k != "preset"})
        return cls(**base)


# Shapes of public checkpoints, so configs can say `preset: llama2-7b` and MFU tests use real shapes.
MODEL_PRESETS: dict[str, dict] = {
    "llama2-7b": dict(vocab_size=32000, dim=4096, n_layers=32, n_heads=32, n_kv_heads=32, hidden_dim=11008,
                      norm_eps=1e-5, rope_theta=10000.0, max_seq_len=4096),
    "llama2-70b": dict(vocab_size=32000, dim=8192, n_layers=80, n_heads=64, n_kv_heads=8, hidden_dim=28672,
                       norm_eps=1e-5, rope_theta=10000.0, max_seq_len=4096),
    "llama3-8b": dict(vocab_size=128256, dim=4096, n_layers=32, n_heads=32, n_kv_heads=8, hidden_dim=14336,
                      norm_eps=1e-5, rope_theta=500000.0, max_seq_len=8192),
    # About 1.2B parameters: the single-H100 benchmark shape of benchmarks/train_gpu.md.
    "llama-1b": dict(vocab_size=32000, dim=2048, n_layers=22, n_heads=32, n_kv_heads=8, hidden_dim=5632,
                     norm_eps=1e-5, rope_theta=10000.0, max_seq_len=4096),
}


class RMSNorm(nn.Module):
    def __init__(self, dim: int, eps: float):
        super().__init__()
        self.eps = eps
        self.weight = nn.Parameter(torch.ones(dim))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # Normalise in fp32 as Llama does: bf16 squares lose too much precision.
        y = x.float()
        y = y * torch.rsqrt(y.pow(2).mean(-1, keepdim=True) + self.eps)
        return (y * self.weight.float()).type_as(x)

    def reset_parameters(self):
        nn.init.ones_(self.weight)


def rope_cache(head_dim: int, max_seq_len: int, theta: float, device=None) -> torch.Tensor:
    """(max_seq_len, head_dim) table: cos in the first half of the last dim, sin in the second."""
    inv_freq = 1.0 / (theta ** (torch.arange(0, head_dim, 2, dtype=torch.float64, device=device) / head_dim))
    angles = torch.outer(torch.arange(max_seq_len, dtype=torch.float64, device=device), inv_freq)
    return torch.cat([angles.cos(), angles.sin()], dim=-1).float()


def apply_rope(x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor) -> torch.Tensor:
    """x: (B, H, T, D); cos, sin: (B, 1, T, D/2). Rotates pairs (i, i + D/2)."""
    x1, x2 = x.float().chunk(2, dim=-1)
    return torch.cat([x1 * cos - x2 * sin, x2 * cos + x1 * sin], dim=-1).type_as(x)


class Attention(nn.Module):
    def __init__(self, args: ModelArgs):
        super().__init__()
        self.n_heads, self.n_kv_heads, self.head_dim = args.n_heads, args.n_kv_heads, args.head_dim
        self.wq = nn.Linear(args.dim, args.n_heads * self.head_dim, bias=False)
        self.wk = nn.Linear(args.dim, args.n_kv_heads * self.head_dim, bias=False)
        self.wv = nn.Linear(args.dim, args.n_kv_heads * self.head_dim, bias=False)
        self.wo = nn.Linear(args.n_heads * self.head_dim, args.dim, bias=False)

    def forward(self, x, cos, sin, meta: AttnMeta):
        b, t, _ = x.shape
        q = self.wq(x).view(b, t, self.n_heads, self.head_dim).transpose(1, 2)
        k = self.wk(x).view(b, t, self.n_kv_heads, self.head_dim).transpose(1, 2)
        v = self.wv(x).view(b, t, self.n_kv_heads, self.head_dim).transpose(1, 2)
        q, k = apply_rope(q, cos, sin), apply_rope(k, cos, sin)
        out = attention(q, k, v, meta)
        return self.wo(out.transpose(1, 2).reshape(b, t, -1))


class FeedForward(nn.Module):
    """SwiGLU: w2(silu(w1 x) * w3 x)."""

    def __init__(self, args: ModelArgs):
        super().__init__()
        self.w1 = nn.Linear(args.dim, args.hidden_dim, bias=False)
        self.w3 = nn.Linear(args.dim, args.hidden_dim, bias=False)
        self.w2 = nn.Linear(args.hidden_dim, args.dim, bias=False)

    def forward(self, x):
        return self.w2(F.silu(self.w1(x)) * self.w3(x))


class TransformerBlock(nn.Module):
    def __init__(self, args: ModelArgs, layer_id: int):
        super().__init__()
        self.layer_id = layer_id
        self.attention_norm = RMSNorm(args.dim, args.norm_eps)
        self.attention = Attention(args)
        self.ffn_norm = RMSNorm(args.dim, args.norm_eps)
        self.feed_forward = FeedForward(args)

    def forward(self, x, cos, sin, meta: AttnMeta):
        x = x + self.attention(self.attention_norm(x), cos, sin, meta)
        return x + self.feed_forward(self.ffn_norm(x))


class Transformer(nn.Module):
    def __init__(self, args: ModelArgs):
        super().__init__()
        self.args = args
        self.tok_embeddings = nn.Embedding(args.vocab_size, args.dim)
        # A ModuleDict keyed by layer index keeps parameter names stable when layers are wrapped.
        self.layers = nn.ModuleDict({str(i): TransformerBlock(args, i) for i in range(args.n_layers)})
        self.norm = RMSNorm(args.dim, args.norm_eps)
        self.output = nn.Linear(args.dim, args.vocab_size, bias=False)
        if args.tie_embeddings:
            self.output.weight = self.tok_embeddings.weight
        # Not persistent: derived from the config, so checkpoints and HF exports never carry it.
        self.register_buffer("rope", rope_cache(args.head_dim, args.max_seq_len, args.rope_theta), persistent=False)

    @torch.no_grad()
    def init_weights(self, buffer_device: torch.device | None = None):
        """Random initialisation (from-scratch runs). Also rebuilds the RoPE table after `to_empty`."""
        self.reset_buffers(buffer_device)
        std = self.args.init_std
        nn.init.normal_(self.tok_embeddings.weight, std=std)
        # Scale the residual output projections by depth (GPT-2 / Megatron) so that activations
        # do not grow with the number of layers.
        out_std = std / math.sqrt(2 * self.args.n_layers)
        for block in self.layers.values():
            for lin in (block.attention.wq, block.attention.wk, block.attention.wv, block.feed_forward.w1, block.feed_forward.w3):
                nn.init.normal_(lin.weight, std=std)
            nn.init.normal_(block.attention.wo.weight, std=out_std)
            nn.init.normal_(block.feed_forward.w2.weight, std=out_std)
            block.attention_norm.reset_parameters()
            block.ffn_norm.reset_parameters()
        self.norm.reset_parameters()
        if not self.args.tie_embeddings:
            nn.init.normal_(self.output.weight, std=std)

    @torch.no_grad()
    def reset_buffers(self, device: torch.device | None = None):
        device = device or self.tok_embeddings.weight.device
        self.rope = rope_cache(self.args.head_dim, self.args.max_seq_len, self.args.rope_theta, device=device)

    def forward(self, tokens: torch.Tensor, positions: torch.Tensor, meta: AttnMeta) -> torch.Tensor:
        """tokens, positions: (B, T) int64. Returns logits (B, T, vocab)."""
        table = self.rope[positions].unsqueeze(1)  # (B, 1, T, D)
        cos, sin = table.chunk(2, dim=-1)
        h = self.tok_embeddings(tokens)
        for block in self.layers.values():
            h = block(h, cos, sin, meta)
        return self.output(self.norm(h))

    def num_params(self, exclude_embedding: bool = False) -> int:
        n = sum(p.numel() for p in self.parameters())  # a tied weight is counted once
        if exclude_embedding:
            n -= self.tok_embeddings.weight.numel()
        return n
