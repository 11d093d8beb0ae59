"""The training configuration: nested dataclasses loaded from one YAML file.

Unknown keys are errors (a typo must not silently fall back to a default). Relative paths in
the YAML are taken relative to the current directory, as DVC runs stages from the repo root.
Every folder or file of data, tokenizer, checkpoint and metrics may also be a URL (s3://, gs://,
az://, file://: curation.storage); `storage_options` gives fsspec options per protocol.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields, is_dataclass, replace
from pathlib import Path
import typing
from typing import Any

import yaml

from curation import storage
from curation.config import check_value

from train.model import ModelArgs


VOCAB_FROM_TOKENIZER = "tokenizer"  # model.vocab_size: the size of data.tokenizer, read at start-up


class ConfigError(ValueError):
    """A configuration that cannot run, or that does not match a checkpoint or tokenizer."""


@dataclass
class DataConfig:
    train: list[str] = field(default_factory=lambda: ["data/mix/train"])
    validation: list[str] = field(default_factory=lambda: ["data/mix/validation"])
    tokenizer: str = "data/mix/tokenizer/tokenizer.model"
    column: str = "text"  # or "tokens" for pre-tokenized shards (list<int32>)
    seq_len: int = 2048
    micro_batch_size: int = 1  # rows per device per forward
    num_workers: int = 0  # loader worker processes per rank
    shuffle: bool = True
    seed: int = 0


@dataclass
class OptimConfig:
    preset: str | None = None  # "meditron-7b" / "meditron-70b" fill the fields below
    lr: float = 3e-4
    min_lr_ratio: float = 0.1
    betas: tuple[float, float] = (0.9, 0.95)
    eps: float = 1e-5
    weight_decay: float = 0.1
    grad_clip: float = 1.0
    warmup_steps: int = 2000
    # The cosine horizon, independent of how many steps are trained (MEDITRON: 2 epochs of
    # schedule, 1 trained). Give steps, or tokens (converted with the global batch).
    horizon_steps: int | None = None
    horizon_tokens: int | None = None


@dataclass
class ParallelConfig:
    mixed_precision: str = "auto"  # auto = bf16 params + fp32 reduce on CUDA, fp32 on CPU
    activation_checkpointing: bool = False
    compile: bool = False
    reshard_after_forward: bool = True
    # The world sizes (GPUs in all) this config is written for. Loading the config checks that the
    # global batch divides into micro-batches on each of them, so a cluster-sized config cannot
    # fail only when it reaches the cluster.
    world_sizes: list[int] = field(default_factory=list)


@dataclass
class CheckpointConfig:
    folder: str = "models/train/checkpoints"
    every: int = 0  # steps; 0 = only at the end
    keep_last: int = 2
    resume: str = "auto"  # auto (latest under folder) | never | a step-N folder
    init_from: str | None = None  # weights only: a Hugging Face folder or a step-N folder
    export_hf: str | None = None  # write the final weights here in Hugging Face format
    export_dtype: str = "bfloat16"


@dataclass
class MetricsConfig:
    folder: str = "models/train"
    log_every: int = 1
    val_every: int = 0  # steps; 0 = only at the end
    val_batches: int = 4
    peak_flops: float | None = None  # override the device table (FLOP/s) for MFU
    tensorboard: bool = True  # used only when tensorboard is installed
    dvc_metrics: str = "metrics/train.json"


@dataclass
class TrainConfig:
    model: ModelArgs = field(default_factory=ModelArgs)
    data: DataConfig = field(default_factory=DataConfig)
    optim: OptimConfig = field(default_factory=OptimConfig)
    parallel: ParallelConfig = field(default_factory=ParallelConfig)
    checkpoint: CheckpointConfig = field(default_factory=CheckpointConfig)
    metrics: MetricsConfig = field(default_factory=MetricsConfig)
    steps: int = 100
    global_batch_tokens: int | None = None  # None = one micro-batch per device, no accumulation
    seed: int = 0
    device: str = "auto"  # auto | cpu | cuda
    attn_impl: str = "auto"  # auto | sdpa | varlen | flash_attn
    document_masking: bool = True  # False = attend across packed documents (MEDITRON)
    # {protocol: {option: value}} for URL locations, e.g. {s3: {endpoint_url: ...}}; empty: each
    # backend's environment (AWS_ENDPOINT_URL, AWS_PROFILE, ...). Never written to a checkpoint.
    storage_options: dict[str, dict[str, Any]] = field(default_factory=dict)

    def to_dict(self) -> dict:
        return asdict(self)


def _build(cls, values: Any, where: str):
    if values is None:
        return cls()
    if not isinstance(values, dict):
        raise ConfigError(f"{where}: expected a mapping, got {type(values).__name__}")
    if cls is ModelArgs:
        # The vocabulary is the tokenizer's unless a config states a number (then it is checked).
        values = {"vocab_size": VOCAB_FROM_TOKENIZER} | values
        try:
            return ModelArgs.from_dict(values)
        except (TypeError, ValueError, KeyError) as exc:
            raise ConfigError(f"{where}: {exc}") from None
    names = {f.name: f for f in fields(cls)}
    unknown = set(values) - set(names)
    if unknown:
        raise ConfigError(f"{where}: unknown keys {sorted(unknown)}; known: {sorted(names)}")
    kwargs = {}
    hints = typing.get_type_hints(cls)
    for name, value in values.items():
        default = getattr(cls(), name) if name in names else None
        if is_dataclass(default):
            kwargs[name] = _build(type(default), value, f"{where}.{name}")
        elif name in ("train", "validation") and isinstance(value, str):
            kwargs[name] = [value]
        else:  # `--set steps=ten` is one line here, not a TypeError deep in the trainer
            try:
                kwargs[name] = check_value(hints[name], value, f"{where}.{name}")
            except ValueError as error:
                raise ConfigError(str(error)) from None
    return cls(**kwargs)


def load_config(path: Path | str, overrides: dict | None = None) -> TrainConfig:
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"no training config at {path}")
    values = yaml.safe_load(path.read_text()) or {}
    for dotted, value in (overrides or {}).items():  # "optim.lr": 1e-3
        node = values
        *parents, leaf = dotted.split(".")
        for key in parents:
            node = node.setdefault(key, {})
        node[leaf] = value
    cfg = _build(TrainConfig, values, str(path))
    if cfg.optim.preset:
        from train.optim import resolve_preset  # optim imports this module

        resolve_preset(cfg.optim, explicit=set(values.get("optim") or {}))
    validate(cfg)
    return cfg


def validate(cfg: TrainConfig) -> None:
    if cfg.steps <= 0:
        raise ConfigError("steps must be positive")
    if cfg.data.seq_len > cfg.model.max_seq_len:
        raise ConfigError(f"data.seq_len {cfg.data.seq_len} exceeds model.max_seq_len {cfg.model.max_seq_len}")
    if cfg.data.column not in ("text", "tokens"):
        raise ConfigError("data.column must be 'text' or 'tokens'")
    resume = cfg.checkpoint.resume
    # A URL is checked when it is read (read_meta): its store's options are not in effect yet.
    if resume not in ("auto", "never") and storage.is_local(resume) and not storage.exists(resume):
        raise ConfigError(f"checkpoint.resume: {resume} does not exist")
    if cfg.parallel.mixed_precision not in ("auto", "bf16", "fp32"):
        raise ConfigError("parallel.mixed_precision must be auto, bf16 or fp32")
    check_world_sizes(cfg)


def check_world_sizes(cfg: TrainConfig) -> None:
    """Every world size in `parallel.world_sizes` must split `global_batch_tokens` evenly."""
    from train.optim import accumulation_steps  # optim imports this module

    if not isinstance(cfg.parallel.world_sizes, list):
        raise ConfigError(f"parallel.world_sizes must be a list of rank counts, got {cfg.parallel.world_sizes!r}")
    for world in cfg.parallel.world_sizes:
        if isinstance(world, bool) or not isinstance(world, int) or world <= 0:
            raise ConfigError(f"parallel.world_sizes: {world!r} is not a positive number of ranks")
    failures = []
    for world in cfg.parallel.world_sizes:
        try:
            accumulation_steps(cfg.global_batch_tokens, world, cfg.data.micro_batch_size, cfg.data.seq_len)
        except ConfigError as exc:
            failures.append(f"on {world} ranks, {exc}")
    if failures:
        raise ConfigError("parallel.world_sizes: the global batch does not divide:\n  " + "\n  ".join(failures))


def resolve_vocab(model: ModelArgs, tokenizer_vocab: int, tokenizer_path: str) -> ModelArgs:
    """The model with `vocab_size: tokenizer` replaced by the tokenizer's size; a stated size is checked."""
    if model.vocab_size == VOCAB_FROM_TOKENIZER:
        return replace(model, vocab_size=tokenizer_vocab)
    check_vocab(model.vocab_size, tokenizer_vocab, tokenizer_path)
    return model


def check_vocab(model_vocab: int, tokenizer_vocab: int, tokenizer_path: str) -> None:
    """A tokenizer with more pieces than the embedding would index past it; fewer wastes rows but
    usually means the wrong tokenizer was given (e.g. Llama's 32000 vs a 32k-from-scratch model)."""
    if model_vocab != tokenizer_vocab:
        raise ConfigError(
            f"tokenizer/vocabulary mismatch: {tokenizer_path} has {tokenizer_vocab} pieces but the model's "
            f"vocab_size is {model_vocab}; set model.vocab_size to {tokenizer_vocab} or use the model's tokenizer "
            "(added special tokens are handled by resizing when loading a Hugging Face checkpoint)"
        )
