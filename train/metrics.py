"""Throughput, MFU, memory and loss metrics, written as JSONL, TensorBoard and a DVC metrics file.

MFU follows PaLM (App. B) as torchtitan and nanoGPT do:
    flops/token = 6 * N_matmul + 12 * n_layers * n_heads * head_dim * seq_len
where N_matmul counts every weight used in a matrix multiply (all parameters except the embedding
lookup; the LM head counts even when tied to the embedding) and the second term is attention's
QK^T and AV products, forward and backward, over the full square (causal sparsity and
activation recompute are not credited). MFU = flops/token * tokens/s per device / peak bf16 FLOP/s.
"""
from __future__ import annotations

import json
import logging
import os
import resource
import time

import torch

from curation import storage
from train.model import ModelArgs

log = logging.getLogger("medcurate.train")

# Dense bf16 peak FLOP/s (torchtitan tools/utils.py:get_peak_flops, vendor datasheets).
PEAK_BF16_FLOPS = [
    ("H100 NVL", 835e12),
    ("H100 PCIe", 756e12),
    ("H100", 989e12),  # SXM
    ("H200", 989e12),
    ("H20", 148e12),
    ("B200", 2.25e15),
    ("A100", 312e12),
    ("A10G", 125e12),
    ("L40S", 362e12),
    ("L4", 121e12),
]


def matmul_params(args: ModelArgs) -> int:
    """Weights that take part in matrix multiplies, from the shape alone."""
    d, hd = args.dim, args.head_dim
    attn = d * args.n_heads * hd * 2 + d * args.n_kv_heads * hd * 2  # wq, wo, wk, wv
    ffn = 3 * d * args.hidden_dim
    norms = 2 * d
    head = args.vocab_size * d
    return args.n_layers * (attn + ffn + norms) + d + head


def flops_per_token(args: ModelArgs, seq_len: int) -> float:
    return 6 * matmul_params(args) + 12 * args.n_layers * args.n_heads * args.head_dim * seq_len


def peak_flops(device: torch.device, override: float | None = None) -> float | None:
    """The device's dense bf16 peak, or None where there is no meaningful one (CPU)."""
    if override:
        return float(override)
    if device.type != "cuda":
        return None
    name = torch.cuda.get_device_name(device)
    for key, value in PEAK_BF16_FLOPS:
        if key in name:
            return value
    return None


def peak_memory_bytes(device: torch.device) -> int:
    if device.type == "cuda":
        return torch.cuda.max_memory_allocated(device)
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # Linux reports KiB


class StepTimer:
    """Splits wall time into waiting for data and the rest of the step."""

    def __init__(self):
        self.data_s = 0.0
        self.total_s = 0.0
        self.tokens = 0
        self._t = time.perf_counter()

    def data_ready(self, seconds: float) -> None:
        self.data_s += seconds

    def step_done(self, tokens: int) -> None:
        now = time.perf_counter()
        self.total_s += now - self._t
        self._t = now
        self.tokens += tokens

    def window(self) -> dict:
        """Throughput since the last call, then reset."""
        out = {
            "tokens_per_s": self.tokens / self.total_s if self.total_s else 0.0,
            "data_share": self.data_s / self.total_s if self.total_s else 0.0,
        }
        self.data_s = self.total_s = 0.0
        self.tokens = 0
        return out


def truncate_metrics(path: str | os.PathLike, last_step: int) -> list[str]:
    """Keep only the records of steps <= `last_step` (rewritten whole); returns the lines kept.

    A run resumed from the checkpoint of step k trains steps k+1.. again, so their records from
    before the interruption must go, or they would appear twice. A line cut off by a kill is dropped too.
    """
    if not storage.isfile(path):
        return []
    kept = []
    for line in storage.read_text(path).splitlines():
        try:
            keep = json.loads(line)["step"] <= last_step
        except (ValueError, KeyError, TypeError):
            keep = False
        if keep:
            kept.append(line + "\n")
    storage.write_bytes(path, "".join(kept).encode("utf-8"))
    return kept


class MetricsLogger:
    """Rank 0 writes; other ranks hold a logger that does nothing, so call sites need no `if`.

    `resume_step`: the step of the checkpoint a run resumes from; the log is cut back to it first,
    so an interrupted and resumed run leaves the same step sequence as an uninterrupted one.

    A local metrics.jsonl is appended to line by line. An object store cannot append, so there the
    log is kept in memory and written whole by `flush`, which the trainer calls before each
    checkpoint and at the end: the stored log always reaches the latest checkpoint, and the steps
    after it, lost by a kill, are the ones a resume trains again. TensorBoard is written only for
    a local folder.
    """

    def __init__(self, folder: str | os.PathLike, enabled: bool, tensorboard: bool = True,
                 resume_step: int | None = None):
        self.enabled = enabled
        self.path = storage.join(folder, "metrics.jsonl")
        self.local = storage.is_local(folder)
        self.tb = None
        if not enabled:
            return
        storage.makedirs(folder)
        kept = truncate_metrics(self.path, resume_step) if resume_step is not None else []
        if self.local:
            self._fh = open(self.path, "a" if resume_step is not None else "w")
        else:
            self._lines = kept
            self.flush()
        if tensorboard and not self.local:
            log.warning("TensorBoard is written only for a local metrics.folder; %s gets metrics.jsonl alone",
                        storage.norm(folder))
        elif tensorboard:
            try:
                from torch.utils.tensorboard import SummaryWriter
            except ImportError:  # tensorboard is optional
                SummaryWriter = None
            if SummaryWriter is not None:
                # purge_step: TensorBoard hides the events of steps logged again after a resume.
                purge = resume_step + 1 if resume_step is not None else None
                self.tb = SummaryWriter(log_dir=storage.join(folder, "tensorboard"), purge_step=purge)

    def log(self, step: int, values: dict) -> None:
        if not self.enabled:
            return
        line = json.dumps({"step": step, "time": round(time.time(), 3)} | values) + "\n"
        if self.local:
            self._fh.write(line)
            self._fh.flush()
        else:
            self._lines.append(line)
        if self.tb is not None:
            for key, value in values.items():
                if isinstance(value, (int, float)):
                    self.tb.add_scalar(key, value, step)

    def flush(self) -> None:
        """Store the log written so far (a no-op for a local file, which is flushed at each line)."""
        if self.enabled and not self.local:
            storage.write_bytes(self.path, "".join(self._lines).encode("utf-8"))

    def close(self) -> None:
        if self.enabled:
            self.flush()
            if self.local:
                self._fh.close()
            if self.tb is not None:
                self.tb.close()


def write_dvc_metrics(path: str | os.PathLike, values: dict) -> None:
    """A flat JSON file for `dvc metrics show` (written whole: atomically on local disk)."""
    storage.write_json(path, values)
