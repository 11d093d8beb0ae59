"""Plain functions behind `medcurate train --config FILE` and `medcurate tokenizer train INPUT... --out DIR`.

The typer wiring lives with the other commands; these functions hold the behaviour so that they
can be called (and tested) without the CLI.
"""
from __future__ import annotations

import logging
import sys
from pathlib import Path

from pipelines.params import load_params, param


def train_command(config_path: Path, overrides: dict | None = None):
    """Train as configured. One process runs directly; under torchrun (RANK/WORLD_SIZE set) every
    process joins the group (gloo on CPU, nccl on CUDA). Returns the run summary."""
    from train.launch import run

    return run(Path(config_path), overrides)


def tokenizer_train_command(
    inputs: list[Path], out: Path, vocab_size: int | None = None, params_file: Path | None = None
) -> Path:
    """Train the shared SentencePiece model on the shards' `text`; writes OUT/tokenizer.model.

    Settings come from params.yaml's `tokenizer:` section (vocab_size, model_type,
    special_tokens, max_documents, seed, ...); `vocab_size` given here wins.
    """
    from curation.tokenizer import Tokenizer, TokenizerParams, train_tokenizer

    params = load_params(params_file)
    settings = dict(param(params, "tokenizer", {}) or {})
    settings.setdefault("seed", param(params, "seed", 0))
    if vocab_size is not None:
        settings["vocab_size"] = vocab_size
    path = train_tokenizer([Path(p) for p in inputs], Path(out), TokenizerParams.from_dict(settings))
    tok = Tokenizer(path)
    logging.getLogger("medcurate.tokenizer").info("tokenizer: %s (%d pieces)", path, tok.vocab_size)
    print(f"tokenizer: {path} ({tok.vocab_size} pieces)", file=sys.stderr)
    return path
