"""One attention interface over several backends, chosen once per run.

Packed rows hold several documents. With document masking (the default) a token attends only to
earlier tokens of its own document; the boundaries come from `positions`, which restart at 0 at
each document start (and at each row start). Backends:

- `flash_attn`: flash-attn's `flash_attn_varlen_func` with `cu_seqlens` (CUDA, optional extra `[gpu]`);
- `varlen`: PyTorch's own `varlen_attn` (CUDA only, torch >= 2.10), same `cu_seqlens` contract;
- `sdpa`: `scaled_dot_product_attention`. Plain causal when attending across documents (cuDNN or
  flash kernels on GPU); with document masking it takes a boolean block-diagonal causal mask,
  which works everywhere (it is the CPU path and the reference the others are checked against).

FlexAttention is deliberately absent: its backward is not implemented on CPU (torch 2.13), so it
could never be tested here.
"""
from __future__ import annotations

import inspect
import logging
from dataclasses import dataclass

import torch
import torch.nn.functional as F

log = logging.getLogger(__name__)

IMPLS = ("auto", "sdpa", "varlen", "flash_attn")


def _flash_attn_varlen():
    """flash-attn is an optional GPU extra; import it only when asked for."""
    try:
        from flash_attn import flash_attn_varlen_func
    except ImportError:
        return None
    return flash_attn_varlen_func


# What `attention` passes to torch's varlen_attn beyond the positional arguments. torch 2.10's
# varlen_attn took `is_causal` and no GQA, so an import alone does not say the call will work.
VARLEN_KEYWORDS = ("window_size", "enable_gqa")


def takes_keywords(fn, names: tuple[str, ...]) -> bool:
    """Whether `fn` accepts every keyword in `names` (by its signature)."""
    try:
        params = inspect.signature(fn).parameters
    except (TypeError, ValueError):
        return False
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values()):
        return True
    return all(name in params and params[name].kind is not inspect.Parameter.POSITIONAL_ONLY for name in names)


def _torch_varlen():
    """torch's varlen_attn when this torch has it with the signature `attention` calls."""
    try:
        from torch.nn.attention.varlen import varlen_attn
    except ImportError:
        return None
    if not takes_keywords(varlen_attn, VARLEN_KEYWORDS):
        log.info("torch %s has a varlen_attn without %s: not used", torch.__version__, "/".join(VARLEN_KEYWORDS))
        return None
    return varlen_attn


# flash-attn's kernels and torch's varlen_attn (FA2 or cuDNN underneath) take only half precision.
HALF_DTYPES = (torch.float16, torch.bfloat16)


@dataclass(frozen=True)
class Choice:
    impl: str
    reason: str  # one line for the log: why this backend and not another
    fallback: bool = False  # a faster kernel is there but cannot run this configuration


def select_impl(requested: str, device_type: str, dtype: torch.dtype, has_flash_attn: bool, has_varlen: bool) -> Choice:
    """The attention backend for a run: a pure function of what was asked and what the run has.

    `dtype` is the compute dtype of q/k/v (bf16 under bf16 mixed precision, fp32 without it).
    `auto` prefers flash-attn, then torch's varlen_attn, then SDPA; it takes SDPA on CPU and with
    fp32 compute, which the varlen kernels refuse. An explicit flash_attn/varlen that cannot run is an
    error naming everything missing.
    """
    if requested not in IMPLS:
        raise ValueError(f"attn_impl must be one of {IMPLS}, got {requested!r}")
    on_cuda, half = device_type == "cuda", dtype in HALF_DTYPES
    if requested == "sdpa":
        return Choice("sdpa", "requested")
    if requested == "auto":
        if not on_cuda:
            return Choice("sdpa", f"{device_type} device: the varlen kernels are CUDA-only")
        if not half:
            return Choice("sdpa", f"{dtype} compute: flash-attn and torch varlen_attn take only float16/bfloat16 "
                                  "(set parallel.mixed_precision: bf16 to use them)", fallback=has_flash_attn or has_varlen)
        if has_flash_attn:
            return Choice("flash_attn", f"CUDA, {dtype}, flash-attn installed")
        if has_varlen:
            return Choice("varlen", f"CUDA, {dtype}, flash-attn not installed, torch varlen_attn available")
        return Choice("sdpa", "flash-attn not installed and this torch has no varlen_attn (torch>=2.10)")
    available, package = {
        "flash_attn": (has_flash_attn, "the flash-attn package (pip install medcurate[gpu])"),
        "varlen": (has_varlen, "torch>=2.10 (torch.nn.attention.varlen)"),
    }[requested]
    missing = ([] if on_cuda else ["CUDA"]) + ([] if available else [package])
    if not half:
        missing.append(f"float16/bfloat16 compute, not {dtype} (parallel.mixed_precision: bf16)")
    if missing:
        raise RuntimeError(f"attn_impl={requested} needs " + " and ".join(missing))
    return Choice(requested, "requested")


def resolve_impl(requested: str, device: torch.device, dtype: torch.dtype) -> str:
    """`select_impl` with what this process has installed and can run; logs the choice and why.

    A varlen kernel that imports is also called once on a tiny causal batch here: one built for
    another CUDA or GPU generation fails now, and `auto` falls back to the next backend instead of
    the run failing at its first step. An explicit request that fails this call is an error.
    """
    # Probe the optional kernels only where they could be used (flash-attn's import is slow).
    auto_cuda = requested == "auto" and device.type == "cuda"
    has = {"flash_attn": (auto_cuda or requested == "flash_attn") and _flash_attn_varlen() is not None,
           "varlen": (auto_cuda or requested == "varlen") and _torch_varlen() is not None}
    while True:
        choice = select_impl(requested, device.type, dtype, has_flash_attn=has["flash_attn"], has_varlen=has["varlen"])
        problem = smoke_call(choice.impl, device, dtype) if choice.impl in has else None
        if problem is None:
            break
        if requested != "auto":
            raise RuntimeError(f"attn_impl={requested}: a test call failed: {problem}")
        log.warning("attention: %s installed but a test call failed (%s); trying the next backend", choice.impl, problem)
        has[choice.impl] = False
    (log.warning if choice.fallback else log.info)("attention: %s (%s)", choice.impl, choice.reason)
    return choice.impl


def smoke_call(impl: str, device: torch.device, dtype: torch.dtype) -> str | None:
    """None when `impl` computes a 2-document GQA batch like SDPA does; else what went wrong."""
    try:
        gen = torch.Generator(device="cpu").manual_seed(0)  # the run's own generators stay untouched
        q, k, v = (torch.randn(1, h, 8, 64, generator=gen).to(device, dtype) for h in (4, 2, 2))
        positions = torch.tensor([[0, 1, 2, 0, 1, 2, 3, 4]], device=device)
        got = attention(q, k, v, build_attn_meta(positions, impl, True))
        want = attention(q, k, v, build_attn_meta(positions, "sdpa", True))
        error = (got.float() - want.float()).abs().max().item()
    except Exception as exc:  # any failure means: do not train with this kernel
        return f"{type(exc).__name__}: {(str(exc).splitlines() or [''])[0][:200]}"
    return None if error < 2e-2 else f"output differs from SDPA by {error:.3g}"


@dataclass
class AttnMeta:
    """Per-batch attention inputs, built outside the model (once per step, shared by all layers)."""

    impl: str
    mask: torch.Tensor | None = None  # (B, 1, T, T) bool, sdpa with document masking
    cu_seqlens: torch.Tensor | None = None  # (n_docs + 1,) int32 over the flattened batch
    max_seqlen: int = 0


def doc_ids_from_positions(positions: torch.Tensor) -> torch.Tensor:
    """(B, T) document index within each row: a new document starts wherever position == 0."""
    return torch.cumsum((positions == 0).to(torch.int32), dim=1)


def block_causal_mask(positions: torch.Tensor) -> torch.Tensor:
    """(B, 1, T, T) boolean mask, True where query i may attend to key j (same document, j <= i)."""
    doc = doc_ids_from_positions(positions)
    t = positions.size(1)
    causal = torch.ones(t, t, dtype=torch.bool, device=positions.device).tril()
    same_doc = doc.unsqueeze(2) == doc.unsqueeze(1)
    return (same_doc & causal).unsqueeze(1)


def cu_seqlens_from_positions(positions: torch.Tensor) -> tuple[torch.Tensor, int]:
    """Cumulative document lengths over the flattened (B*T) batch, and the longest document."""
    flat = positions.reshape(-1)
    starts = torch.nonzero(flat == 0).flatten()
    # Every row starts a document (position 0), so row boundaries are document boundaries too.
    ends = torch.cat([starts, torch.tensor([flat.numel()], device=flat.device)])
    lengths = ends[1:] - ends[:-1]
    # One host sync per step: the kernels need max_seqlen as a Python int.
    return ends.to(torch.int32), int(lengths.max().item())


def build_attn_meta(positions: torch.Tensor, impl: str, document_masking: bool) -> AttnMeta:
    if not document_masking:
        return AttnMeta(impl="sdpa_causal")  # MEDITRON's choice: attend across packed documents
    if impl == "sdpa":
        return AttnMeta(impl="sdpa", mask=block_causal_mask(positions))
    cu, max_len = cu_seqlens_from_positions(positions)
    return AttnMeta(impl=impl, cu_seqlens=cu, max_seqlen=max_len)


def attention(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, meta: AttnMeta) -> torch.Tensor:
    """q: (B, Hq, T, D); k, v: (B, Hkv, T, D) with Hq a multiple of Hkv (GQA). Returns (B, Hq, T, D)."""
    gqa = k.size(1) != q.size(1)
    if meta.impl == "sdpa_causal":
        return F.scaled_dot_product_attention(q, k, v, is_causal=True, enable_gqa=gqa)
    if meta.impl == "sdpa":
        return F.scaled_dot_product_attention(q, k, v, attn_mask=meta.mask, enable_gqa=gqa)
    b, hq, t, d = q.shape
    # varlen kernels take (total_tokens, heads, head_dim).
    qf, kf, vf = (x.transpose(1, 2).reshape(b * t, x.size(1), d) for x in (q, k, v))
    if meta.impl == "flash_attn":
        out = _flash_attn_varlen()(
            qf, kf, vf, meta.cu_seqlens, meta.cu_seqlens, meta.max_seqlen, meta.max_seqlen, causal=True
        )  # flash-attn handles GQA natively
    elif meta.impl == "varlen":
        out = _torch_varlen()(
            qf, kf, vf, meta.cu_seqlens, meta.cu_seqlens, meta.max_seqlen, meta.max_seqlen,
            window_size=(-1, 0), enable_gqa=gqa,  # (-1, 0): unlimited left context, no right = causal
        )
    else:
        raise ValueError(f"unknown attention impl {meta.impl!r}")
    return out.reshape(b, t, hq, d).transpose(1, 2)


def per_document_reference(q, k, v, positions) -> torch.Tensor:
    """Attention computed document by document with plain causal SDPA: the ground truth for tests."""
    out = torch.zeros_like(q)
    doc = doc_ids_from_positions(positions)
    gqa = k.size(1) != q.size(1)
    for b in range(q.size(0)):
        for d in doc[b].unique():
            idx = (doc[b] == d).nonzero().flatten()
            sl = slice(int(idx[0]), int(idx[-1]) + 1)
            out[b, :, sl] = F.scaled_dot_product_attention(
                q[b : b + 1, :, sl], k[b : b + 1, :, sl], v[b : b + 1, :, sl], is_causal=True, enable_gqa=gqa
            )[0]
    return out
