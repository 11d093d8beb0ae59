"""One-GPU training benchmark: SDPA, flash-attn and torch varlen attention on packed documents.

    python benchmarks/train_gpu.py                      # one H100/H200, about 3-5 minutes
    python benchmarks/train_gpu.py --cpu-smoke          # the same code path on CPU, tiny model, SDPA only

A ~1.2B Llama (preset `llama-1b`: d 2048, 22 layers, 32/8 heads, vocab 32,000), bf16 compute with
fp32 master weights, FSDP2 (`fully_shard`) over a one-rank process group, AdamW: the trainer's
model, attention, sharding and loss (train/). Rows of `seq_len` tokens are packed with documents
whose lengths follow a log-normal with median 600 tokens (PubMed abstracts to PMC sections), with
positions restarting at each document, so every backend computes document-masked attention.
Token ids are random: throughput does not depend on them.

For each backend: tokens/s (timed steps after warm-up, synchronised), MFU (PaLM's flops/token as
train/metrics.py, over the device's dense bf16 peak), peak memory; and, on one shared set of
weights, its logits against masked SDPA in bf16 (relative L2 error and top-1 agreement).
Writes OUT/train_gpu.json and OUT/train_gpu.md. A backend that is not installed or fails its
start-up call is reported as unavailable, not an error. The run stops starting new backends once
`--budget-s` is spent, so the whole script stays within 8 minutes.
"""
from __future__ import annotations

import argparse
import json
import math
import platform
import sys
import time
from pathlib import Path

import torch
import torch.nn.functional as F

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from train.attention import build_attn_meta, resolve_impl  # noqa: E402
from train.config import ParallelConfig  # noqa: E402
from train.data import positions_from_tokens  # noqa: E402
from train.metrics import flops_per_token, peak_flops, peak_memory_bytes  # noqa: E402
from train.model import ModelArgs, Transformer  # noqa: E402
from train.parallel import destroy_distributed, init_distributed, parallelize  # noqa: E402

IMPLS = ("sdpa", "flash_attn", "varlen")
EOS = 2
# Logits of a varlen kernel and of masked SDPA differ by bf16 rounding inside attention, carried
# through every layer; more than this is a wrong mask or layout, not rounding.
MAX_REL_L2 = 2e-2
MIN_TOP1 = 0.98


def model_args(cpu_smoke: bool) -> ModelArgs:
    if cpu_smoke:
        return ModelArgs(vocab_size=512, dim=64, n_layers=2, n_heads=4, n_kv_heads=2, hidden_dim=160, max_seq_len=128)
    return ModelArgs.from_dict({"preset": "llama-1b"})


def packed_batch(batch: int, seq_len: int, vocab: int, seed: int, device: torch.device) -> dict:
    """Rows of documents with log-normal lengths (median 600 tokens, or a sixth of a row when
    rows are shorter), each ended by EOS."""
    gen = torch.Generator().manual_seed(seed)
    log_median = math.log(min(600, seq_len // 6))
    tokens = torch.randint(3, vocab, (batch, seq_len + 1), generator=gen)
    flat = tokens.view(-1)
    pos = 0
    while pos < flat.numel():
        length = int(math.exp(log_median + 0.9 * torch.randn((), generator=gen).item()))
        pos += max(1, length)
        if pos < flat.numel():
            flat[pos] = EOS
        pos += 1
    inputs, labels = tokens[:, :-1].contiguous(), tokens[:, 1:].contiguous()
    return {"input_ids": inputs.to(device), "labels": labels.to(device),
            "positions": positions_from_tokens(inputs, EOS).to(device)}


def build_model(args: ModelArgs, dist_info, seed: int) -> torch.nn.Module:
    """As the trainer does: meta device, shard, materialise, initialise (same seed, same weights)."""
    torch.manual_seed(seed)
    on_cuda = dist_info.device.type == "cuda"
    with torch.device("meta" if on_cuda else "cpu"):
        model = Transformer(args)
    if not on_cuda:
        model.init_weights()
    parallelize(model, dist_info, ParallelConfig(mixed_precision="bf16" if on_cuda else "fp32"))
    if on_cuda:
        model.to_empty(device=dist_info.device)
        model.init_weights(buffer_device=dist_info.device)
    return model


def loss_of(model, batch: dict, impl: str) -> torch.Tensor:
    logits = model(batch["input_ids"], batch["positions"], build_attn_meta(batch["positions"], impl, True))
    return F.cross_entropy(logits.float().flatten(0, 1), batch["labels"].flatten())


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def time_training(args: ModelArgs, dist_info, impl: str, batch: dict, steps: int, warmup: int, seed: int) -> dict:
    device = dist_info.device
    model = build_model(args, dist_info, seed)
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-4, betas=(0.9, 0.95), weight_decay=0.1,
                                  fused=device.type == "cuda")
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
    losses = []
    for step in range(warmup + steps):
        if step == warmup:
            sync(device)
            start = time.perf_counter()
        loss = loss_of(model, batch, impl)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0, foreach=True)
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        losses.append(loss.detach())
    sync(device)
    seconds = time.perf_counter() - start
    tokens = steps * batch["input_ids"].numel()
    tokens_per_s = tokens / seconds
    peak = peak_flops(device)
    seq_len = batch["input_ids"].size(1)
    result = {
        "tokens_per_s": tokens_per_s,
        "mfu": flops_per_token(args, seq_len) * tokens_per_s / peak if peak else None,
        "peak_memory_gb": peak_memory_bytes(device) / 1e9,
        "step_s": seconds / steps,
        "loss_first": float(losses[0]),
        "loss_last": float(losses[-1]),
    }
    del model, optimizer
    if device.type == "cuda":
        torch.cuda.empty_cache()
    return result


@torch.no_grad()
def compare_logits(args: ModelArgs, dist_info, impls: list[str], batch: dict, seed: int) -> dict:
    """Each backend's logits on one set of weights against masked SDPA's (the reference)."""
    model = build_model(args, dist_info, seed)
    model.eval()
    logits = {impl: model(batch["input_ids"], batch["positions"], build_attn_meta(batch["positions"], impl, True)).float()
              for impl in impls}
    ref = logits["sdpa"]
    out = {}
    for impl, got in logits.items():
        rel = ((got - ref).norm() / ref.norm()).item()
        top1 = (got.argmax(-1) == ref.argmax(-1)).float().mean().item()
        out[impl] = {"rel_l2_vs_sdpa": rel, "top1_agreement": top1, "max_abs_diff": (got - ref).abs().max().item(),
                     "agrees": rel <= MAX_REL_L2 and top1 >= MIN_TOP1}
    del model
    return out


def available(impl: str, device: torch.device) -> str | None:
    """None if `impl` can run here; else why not (the trainer's own check, start-up call included)."""
    if device.type != "cuda" and impl != "sdpa":
        return "CPU: the varlen kernels are CUDA-only"
    try:
        resolve_impl(impl, device, torch.bfloat16 if device.type == "cuda" else torch.float32)
    except RuntimeError as exc:
        return str(exc)
    return None


def count_params(args: ModelArgs) -> int:
    with torch.device("meta"):
        return sum(p.numel() for p in Transformer(args).parameters())


def environment(device: torch.device) -> dict:
    env = {"torch": torch.__version__, "python": platform.python_version(), "device": str(device)}
    if device.type == "cuda":
        env |= {"gpu": torch.cuda.get_device_name(device), "cuda": torch.version.cuda,
                "cudnn": torch.backends.cudnn.version()}
        try:
            import flash_attn

            env["flash_attn"] = flash_attn.__version__
        except ImportError:
            env["flash_attn"] = None
    return env


def markdown(report: dict) -> str:
    env, setup = report["environment"], report["setup"]
    lines = [
        f"# benchmarks/train_gpu.py ({'CPU smoke run: not a GPU measurement' if setup['cpu_smoke'] else env.get('gpu', '')})",
        "",
        f"torch {env['torch']}, CUDA {env.get('cuda')}, cuDNN {env.get('cudnn')}, flash-attn {env.get('flash_attn')}; "
        f"{setup['params'] / 1e6:,.1f}M parameters, batch {setup['micro_batch']} x {setup['seq_len']} tokens, "
        f"{setup['documents_per_row']:.1f} documents per row, {setup['steps']} timed steps after {setup['warmup']}.",
        "",
        "| attention | tokens/s | MFU | peak memory (GB) | step (s) | logits vs SDPA (rel. L2) | top-1 agreement | agrees |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for impl in IMPLS:
        r = report["results"].get(impl, {})
        if "unavailable" in r:
            lines.append(f"| {impl} | unavailable: {r['unavailable']} | | | | | | |")
            continue
        if "skipped" in r:
            lines.append(f"| {impl} | skipped: {r['skipped']} | | | | | | |")
            continue
        mfu = f"{100 * r['mfu']:.1f}%" if r.get("mfu") is not None else "n/a (no peak)"
        check = r.get("logits", {})
        lines.append(f"| {impl} | {r['tokens_per_s']:,.0f} | {mfu} | {r['peak_memory_gb']:.1f} | {r['step_s']:.3f} | "
                     f"{check.get('rel_l2_vs_sdpa', float('nan')):.2e} | {check.get('top1_agreement', float('nan')):.4f} | "
                     f"{'yes' if check.get('agrees') else 'NO'} |")
    lines += ["", f"Total wall time {report['wall_s']:.0f} s."]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cpu-smoke", action="store_true", help="tiny model on CPU, SDPA only: checks the code path")
    parser.add_argument("--out", type=Path, default=REPO / "benchmarks" / "results")
    parser.add_argument("--seq-len", type=int, default=None, help="default 4096 (64 with --cpu-smoke)")
    parser.add_argument("--micro-batch", type=int, default=None, help="rows per step; default 4 (2 with --cpu-smoke)")
    parser.add_argument("--steps", type=int, default=None, help="timed steps; default 20 (2 with --cpu-smoke)")
    parser.add_argument("--warmup", type=int, default=None, help="untimed steps first; default 5 (1 with --cpu-smoke)")
    parser.add_argument("--budget-s", type=float, default=420.0, help="start no new backend after this many seconds")
    parser.add_argument("--seed", type=int, default=0)
    opts = parser.parse_args(argv)
    smoke = opts.cpu_smoke
    if not smoke and not torch.cuda.is_available():
        print("benchmarks/train_gpu.py needs a CUDA GPU: torch.cuda.is_available() is False "
              f"(torch {torch.__version__}, CUDA build {torch.version.cuda}). "
              "Use --cpu-smoke to check the code path on CPU.", file=sys.stderr)
        return 2
    seq_len = opts.seq_len or (64 if smoke else 4096)
    micro = opts.micro_batch or (2 if smoke else 4)
    steps = opts.steps or (2 if smoke else 20)
    warmup = opts.warmup if opts.warmup is not None else (1 if smoke else 5)
    began = time.perf_counter()

    dist_info = init_distributed("cpu" if smoke else "cuda")  # a one-rank group: FSDP2 as in training
    try:
        device = dist_info.device
        args = model_args(smoke)
        batch = packed_batch(micro, seq_len, args.vocab_size, opts.seed, device)
        docs_per_row = (batch["positions"] == 0).sum().item() / micro
        results: dict[str, dict] = {}
        runnable = []
        for impl in IMPLS:
            why_not = available(impl, device)
            if why_not:
                results[impl] = {"unavailable": why_not}
            else:
                runnable.append(impl)
        checks = compare_logits(args, dist_info, runnable, batch, opts.seed)
        for impl in runnable:
            if time.perf_counter() - began > opts.budget_s:
                results[impl] = {"skipped": f"time budget of {opts.budget_s:.0f} s spent"}
                continue
            print(f"train_gpu: timing {impl} ...", file=sys.stderr, flush=True)
            results[impl] = time_training(args, dist_info, impl, batch, steps, warmup, opts.seed)
            results[impl]["logits"] = checks[impl]
        report = {
            "setup": {"cpu_smoke": smoke, "model": args.to_dict(), "params": count_params(args),
                      "seq_len": seq_len, "micro_batch": micro, "steps": steps, "warmup": warmup,
                      "documents_per_row": docs_per_row, "fsdp_world_size": dist_info.world_size,
                      "dtype": "bf16 compute, fp32 master weights" if device.type == "cuda" else "fp32"},
            "environment": environment(device),
            "results": results,
            "wall_s": time.perf_counter() - began,
        }
    finally:
        destroy_distributed()
    opts.out.mkdir(parents=True, exist_ok=True)
    stem = "train_gpu_cpu_smoke" if smoke else "train_gpu"
    (opts.out / f"{stem}.json").write_text(json.dumps(report, indent=2) + "\n")
    (opts.out / f"{stem}.md").write_text(markdown(report))
    print(markdown(report))
    disagree = [impl for impl, r in results.items() if "logits" in r and not r["logits"]["agrees"]]
    if disagree:
        print(f"train_gpu: logits of {disagree} disagree with SDPA beyond bf16 rounding", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
