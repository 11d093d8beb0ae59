"""The training loop: build, (resume), step, validate, checkpoint, export. One readable function each.

Loss normalisation: every label is a real token (rows are packed full, no padding), so each rank
sees the same number of tokens per step. The per-rank loss is the token-summed cross-entropy
divided by that rank's tokens per step; FSDP averages gradients over ranks, which gives exactly
the gradient of the global per-token mean (see parallel.py on why not PREMUL_SUM).
"""
from __future__ import annotations

import logging
import math
import random
import time
from dataclasses import dataclass, field

import numpy as np
import torch
import torch.nn.functional as F

from curation import storage
from curation.tokenizer import Tokenizer
from train import checkpoint as ckpt
from train import hf_io
from train.attention import build_attn_meta, resolve_impl
from train.config import ConfigError, TrainConfig, resolve_vocab
from train.data import build_loader, local_tokenizer
from train.metrics import MetricsLogger, StepTimer, flops_per_token, peak_flops, peak_memory_bytes, write_dvc_metrics
from train.model import ModelArgs, Transformer
from train.optim import accumulation_steps, build_optimizer, build_scheduler, horizon
from train.parallel import (
    DistInfo, all_gather_objects, all_reduce_max, all_reduce_mean, compute_dtype, parallelize,
)

log = logging.getLogger("medcurate.train")

_SHAPE_KEYS = ("dim", "n_layers", "n_heads", "n_kv_heads", "hidden_dim", "norm_eps", "rope_theta", "tie_embeddings")


@dataclass
class RunSummary:
    steps: int = 0
    start_step: int = 0
    tokens: int = 0
    losses: list[float] = field(default_factory=list)
    val_loss: float | None = None
    tokens_per_s: float = 0.0
    mfu: float | None = None
    peak_memory_gb: float = 0.0
    data_share: float = 0.0
    checkpoint: str | None = None
    export: str | None = None
    attn_impl: str = ""


class Trainer:
    def __init__(self, cfg: TrainConfig, dist_info: DistInfo):
        self.cfg, self.dist = cfg, dist_info
        self.device = dist_info.device
        if cfg.storage_options:  # else the environment's (and any MEDCURATE_STORAGE_OPTIONS inherited)
            storage.configure(cfg.storage_options)
        # Same init on every rank; Python's and NumPy's generators too, since a checkpoint saves
        # and restores them (unseeded they would start from OS entropy, different in every run).
        torch.manual_seed(cfg.seed)
        random.seed(cfg.seed)
        np.random.seed(cfg.seed)

        # A tokenizer on an object store is fetched once to local disk, where SentencePiece reads it.
        self.tokenizer_path = local_tokenizer(cfg.data.tokenizer)
        self.tokenizer = Tokenizer(self.tokenizer_path)
        cfg.model = resolve_vocab(cfg.model, self.tokenizer.vocab_size, cfg.data.tokenizer)
        self.model_args, hf_state = self._model_args()
        self.model = self._build_model(hf_state)

        self.attn_impl = resolve_impl(cfg.attn_impl, self.device, compute_dtype(cfg.parallel, self.device))
        self.accum = accumulation_steps(cfg.global_batch_tokens, dist_info.world_size, cfg.data.micro_batch_size, cfg.data.seq_len)
        self.tokens_per_rank_step = self.accum * cfg.data.micro_batch_size * cfg.data.seq_len
        self.tokens_per_step = self.tokens_per_rank_step * dist_info.world_size
        self.optimizer = build_optimizer(self.model, cfg.optim, self.device)
        self.horizon = horizon(cfg.optim, cfg.steps, self.tokens_per_step)
        self.scheduler = build_scheduler(self.optimizer, cfg.optim, self.horizon)

        d = cfg.data
        # The ranks split the token counting that plans each epoch (train/data.py).
        self.train_loader = build_loader(d.train, self.tokenizer_path, d.seq_len, d.micro_batch_size, dist_info.rank,
                                         dist_info.world_size, d.num_workers, d.seed, d.column, d.shuffle,
                                         gather=all_gather_objects)
        self.val_loader = None  # planned at the first evaluation
        self.checkpointer = ckpt.Checkpointer(cfg.checkpoint.folder, cfg.checkpoint.every,
                                              cfg.checkpoint.keep_last, dist_info.rank, dist_info.world_size)
        self.step, self.tokens = 0, 0
        self.flops_per_token = flops_per_token(self.model_args, d.seq_len)
        self.peak = peak_flops(self.device, cfg.metrics.peak_flops)

    # -- building --------------------------------------------------------------------------------
    def _model_args(self) -> tuple[ModelArgs, dict | None]:
        """The model shape: from the config, or from a Hugging Face checkpoint given as init_from."""
        cfg = self.cfg
        source = cfg.checkpoint.init_from
        if not source or not hf_io.is_hf_folder(source):
            return cfg.model, None
        # Only rank 0 reads the tensors (a 70B checkpoint per rank would not fit in host memory);
        # the others get them broadcast while loading (checkpoint.load_full_weights).
        hf_args, state = hf_io.load_hf(source, max_seq_len=cfg.model.max_seq_len,
                                       weights=self.dist.is_main)
        diffs = [f"{k}: checkpoint {getattr(hf_args, k)!r} != config {getattr(cfg.model, k)!r}"
                 for k in _SHAPE_KEYS if getattr(hf_args, k) != getattr(cfg.model, k)]
        if diffs:
            raise ConfigError(f"init_from {source} does not match the model config:\n  " + "\n  ".join(diffs))
        if self.tokenizer.vocab_size < hf_args.vocab_size:
            raise ConfigError(
                f"tokenizer/vocabulary mismatch: {cfg.data.tokenizer} has {self.tokenizer.vocab_size} pieces, "
                f"fewer than the checkpoint's {hf_args.vocab_size}; is it the checkpoint's tokenizer?"
            )
        # Added special tokens: grow the embedding to the tokenizer (MEDITRON's [bib_ref] etc.).
        if state:
            hf_args, state = hf_io.resize_vocab(hf_args, state, self.tokenizer.vocab_size)
        else:
            hf_args = ModelArgs.from_dict(hf_args.to_dict() | {"vocab_size": self.tokenizer.vocab_size})
        return hf_args, state

    def _build_model(self, hf_state: dict | None) -> torch.nn.Module:
        cfg = self.cfg
        # Build on the meta device and materialise after sharding: a 70B model never exists
        # whole on one device.
        on_meta = self.device.type == "cuda"
        with torch.device("meta" if on_meta else "cpu"):
            model = Transformer(self.model_args)
        if not on_meta:
            # CPU: initialise whole tensors before sharding. Every rank draws the same values from
            # the same seed, so the run does not depend on the world size (DTensor's sharded RNG
            # is only supported on accelerators).
            model.init_weights()
        parallelize(model, self.dist, cfg.parallel)
        if on_meta:
            model.to_empty(device=self.device)
            model.init_weights(buffer_device=self.device)  # DTensor random ops, shard by shard
        source = cfg.checkpoint.init_from
        if hf_state is not None:
            ckpt.load_full_weights(model, hf_state)
            log.info("initialised weights from Hugging Face checkpoint %s", source)
        elif source:
            meta = ckpt.read_meta(source)
            if {k: v for k, v in meta["model"].items() if k != "init_std"} != {
                k: v for k, v in self.model_args.to_dict().items() if k != "init_std"
            }:
                raise ConfigError(f"init_from {source}: its model {meta['model']} differs from the config's")
            ckpt.load_weights_only(source, model)
            log.info("initialised weights from checkpoint %s (weights only)", source)
        return model

    def _layout(self) -> dict:
        c = self.cfg
        return {"world_size": self.dist.world_size, "num_workers": max(1, c.data.num_workers), "seq_len": c.data.seq_len,
                "micro_batch_size": c.data.micro_batch_size, "accumulation": self.accum, "data_seed": c.data.seed,
                "shuffle": c.data.shuffle, "tokenizer_vocab": self.tokenizer.vocab_size}

    def _checkpoint_meta(self) -> dict:
        # storage_options may hold credentials: never written to a checkpoint.
        config = self.cfg.to_dict()
        config.pop("storage_options", None)
        return {"model": self.model_args.to_dict(), "layout": self._layout(), "config": config}

    def maybe_resume(self) -> str | None:
        mode = self.cfg.checkpoint.resume
        if mode == "never":
            return None
        path = ckpt.latest_checkpoint(self.cfg.checkpoint.folder) if mode == "auto" else mode
        if path is None:
            return None
        ckpt.check_compatible(ckpt.read_meta(path), self.model_args.to_dict(), self._layout(), path)
        state = self.checkpointer.load(path, self.model, self.optimizer, self.scheduler, self.train_loader)
        self.step, self.tokens = int(state["step"]), int(state["tokens"])
        return path

    # -- one step --------------------------------------------------------------------------------
    def _to_device(self, batch: dict) -> dict:
        return {k: v.to(self.device, non_blocking=True) for k, v in batch.items()}

    def _loss_sum(self, batch: dict) -> torch.Tensor:
        meta = build_attn_meta(batch["positions"], self.attn_impl, self.cfg.document_masking)
        positions = batch["positions"]
        if not self.cfg.document_masking:
            # Across-document attention (MEDITRON): positions run over the whole row.
            positions = torch.arange(positions.size(1), device=positions.device).expand_as(positions)
        logits = self.model(batch["input_ids"], positions, meta)
        return F.cross_entropy(logits.float().flatten(0, 1), batch["labels"].flatten(), reduction="sum")

    def train_step(self, batches, timer: StepTimer) -> tuple[float, float, float]:
        self.model.train()
        loss_total = torch.zeros((), device=self.device)
        for micro in range(self.accum):
            t0 = time.perf_counter()
            batch = self._to_device(next(batches))
            timer.data_ready(time.perf_counter() - t0)
            # Gradients are reduce-scattered only after the last micro-batch.
            self.model.set_requires_gradient_sync(micro == self.accum - 1)
            loss = self._loss_sum(batch) / self.tokens_per_rank_step
            loss.backward()
            loss_total += loss.detach()
        clip = self.cfg.optim.grad_clip if self.cfg.optim.grad_clip > 0 else math.inf
        grad_norm = torch.nn.utils.clip_grad_norm_(self.model.parameters(), clip, foreach=True)
        if hasattr(grad_norm, "full_tensor"):
            grad_norm = grad_norm.full_tensor()
        lr = self.optimizer.param_groups[0]["lr"]  # the rate this step used
        self.optimizer.step()
        self.scheduler.step()
        self.optimizer.zero_grad(set_to_none=True)
        return all_reduce_mean(loss_total.item(), self.device), float(grad_norm), lr

    @torch.no_grad()
    def evaluate(self) -> float | None:
        c = self.cfg
        if not c.data.validation or c.metrics.val_batches <= 0:
            return None
        if self.val_loader is None:
            self.val_loader = build_loader(c.data.validation, self.tokenizer_path, c.data.seq_len,
                                           c.data.micro_batch_size, self.dist.rank, self.dist.world_size, 0,
                                           c.data.seed, c.data.column, shuffle=False, replicate_if_small=True,
                                           gather=all_gather_objects)
        # From the start each time: the same validation batches at every evaluation. Every rank
        # runs the same number of batches (FSDP's collectives must line up).
        self.val_loader.rewind()
        self.model.eval()
        total, count = 0.0, 0
        batches = iter(self.val_loader)
        for _ in range(c.metrics.val_batches):
            batch = self._to_device(next(batches))
            total += self._loss_sum(batch).item()
            count += batch["labels"].numel()
        return all_reduce_mean(total / count, self.device)

    # -- the loop --------------------------------------------------------------------------------
    def train(self) -> RunSummary:
        c, is_main = self.cfg, self.dist.is_main
        resumed = self.maybe_resume()
        logger = MetricsLogger(c.metrics.folder, is_main, c.metrics.tensorboard,
                               resume_step=self.step if resumed else None)
        summary = RunSummary(start_step=self.step, attn_impl=self.attn_impl)
        params = sum(p.numel() for p in self.model.parameters())  # DTensor numel is the global size
        if is_main:
            log.info("model %.1fM parameters, %d ranks on %s, attention %s, %d micro-batches/step, %d tokens/step%s",
                     params / 1e6, self.dist.world_size, self.device, self.attn_impl, self.accum,
                     self.tokens_per_step, f", resumed from {resumed}" if resumed else "")
        batches = iter(self.train_loader)
        timer = StepTimer()
        window_tokens_per_s, window_data = [], []
        last_saved = None
        while self.step < c.steps:
            loss, grad_norm, lr = self.train_step(batches, timer)
            self.step += 1
            self.tokens += self.tokens_per_step
            timer.step_done(self.tokens_per_rank_step)
            summary.losses.append(loss)
            last = self.step == c.steps
            record = {"loss": loss, "grad_norm": grad_norm, "lr": lr, "tokens": self.tokens}
            if self.step % c.metrics.log_every == 0 or last:
                window = timer.window()
                tps = window["tokens_per_s"]
                mfu = self.flops_per_token * tps / self.peak if self.peak else None
                record |= {"tokens_per_s_per_device": tps, "mfu": mfu, "data_share": window["data_share"],
                           "peak_memory_gb": all_reduce_max(peak_memory_bytes(self.device), self.device) / 1e9}
                window_tokens_per_s.append(tps)
                window_data.append(window["data_share"])
            if (c.metrics.val_every and self.step % c.metrics.val_every == 0) or last:
                record["val_loss"] = summary.val_loss = self.evaluate()
            logger.log(self.step, record)
            if is_main and "tokens_per_s_per_device" in record:
                log.info("step %d loss %.4f lr %.2e grad_norm %.3f %.0f tok/s/device%s", self.step, loss, record["lr"],
                         grad_norm, record["tokens_per_s_per_device"],
                         f" val_loss {record['val_loss']:.4f}" if record.get("val_loss") is not None else "")
            if self.checkpointer.due(self.step, last):
                logger.flush()  # a stored log reaches every checkpoint (object stores: see MetricsLogger)
                last_saved = self.checkpointer.save(self.step, self.model, self.optimizer, self.scheduler,
                                                    self.train_loader, {"step": self.step, "tokens": self.tokens},
                                                    self._checkpoint_meta())
        logger.close()
        summary.steps, summary.tokens = self.step, self.tokens
        # The first window includes start-up and warm-up; report the later ones when there are any.
        steady = window_tokens_per_s[1:] or window_tokens_per_s
        summary.tokens_per_s = sum(steady) / len(steady) if steady else 0.0
        summary.data_share = sum(window_data) / len(window_data) if window_data else 0.0
        summary.mfu = self.flops_per_token * summary.tokens_per_s / self.peak if self.peak else None
        summary.peak_memory_gb = all_reduce_max(peak_memory_bytes(self.device), self.device) / 1e9
        summary.checkpoint = last_saved or ckpt.latest_checkpoint(c.checkpoint.folder) or ""
        if c.checkpoint.export_hf:
            summary.export = self.export_hf(c.checkpoint.export_hf)
        if is_main and c.metrics.dvc_metrics:
            write_dvc_metrics(c.metrics.dvc_metrics, self.dvc_metrics(summary))
        return summary

    def num_params(self) -> int:
        return sum(p.numel() for p in self.model.parameters())

    def export_hf(self, folder: str) -> str:
        full = ckpt.gather_full_weights(self.model)  # every rank takes part; rank 0 receives
        if self.dist.is_main:
            dtype = getattr(torch, self.cfg.checkpoint.export_dtype)
            hf_io.save_hf(folder, self.model_args, full, dtype=dtype,
                          bos_id=self.tokenizer.bos_id, eos_id=self.tokenizer.eos_id)
            # The tokenizer travels with the weights so the export is usable on its own.
            hf_io.save_tokenizer(folder, self.tokenizer)
        torch.distributed.barrier()
        return storage.norm(folder)

    def dvc_metrics(self, s: RunSummary) -> dict:
        return {
            "steps": s.steps,
            "tokens": s.tokens,
            "loss_first": s.losses[0] if s.losses else None,
            "loss_last": s.losses[-1] if s.losses else None,
            "val_loss": s.val_loss,
            "tokens_per_s_per_device": round(s.tokens_per_s, 2),
            "mfu": s.mfu,
            "peak_memory_gb": round(s.peak_memory_gb, 3),
            "data_share": round(s.data_share, 4),
            "world_size": self.dist.world_size,
            "device": str(self.device.type),
            "params": self.num_params(),
        }


def format_summary(s: RunSummary, device: torch.device) -> str:
    first = f"{s.losses[0]:.4f}" if s.losses else "n/a"
    last = f"{s.losses[-1]:.4f}" if s.losses else "n/a"
    val = f"{s.val_loss:.4f}" if s.val_loss is not None else "n/a"
    if s.mfu is not None:
        mfu = f"{100 * s.mfu:.1f}%"
    else:
        mfu = ("n/a on CPU: there is no bf16 peak to compare with (set metrics.peak_flops for a nominal figure)"
               if device.type == "cpu" else "n/a: unknown device peak (set metrics.peak_flops)")
    lines = [
        "training summary",
        f"  steps          {s.start_step} -> {s.steps} ({s.steps - s.start_step} this run)",
        f"  tokens         {s.tokens:,}",
        f"  loss           {first} -> {last}",
        f"  val loss       {val}",
        f"  tokens/s       {s.tokens_per_s:,.0f} per device (attention: {s.attn_impl})",
        f"  MFU            {mfu}",
        f"  data loading   {100 * s.data_share:.1f}% of step time",
        f"  peak memory    {s.peak_memory_gb:.2f} GB",
        f"  checkpoint     {s.checkpoint or 'none'}",
    ]
    if s.export:
        lines.append(f"  export (HF)    {s.export}")
    return "\n".join(lines)
