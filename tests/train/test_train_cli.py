"""`medcurate tokenizer train` and the training entry point behind `medcurate train`."""
import json

import yaml
from typer.testing import CliRunner

from curation.tokenizer import Tokenizer
from pipelines.cli import app
from train.launch import run as train_command
from train_helpers import tiny_config


def tokenizer_train_command(inputs, out, vocab_size, params):
    args = ["tokenizer", "train", *map(str, inputs), "--out", str(out), "--params", str(params)]
    if vocab_size is not None:
        args += ["--vocab-size", str(vocab_size)]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    return out / "tokenizer.model"


def test_tokenizer_command_reads_params_and_the_flag_wins(mix_dir, tmp_path):
    params = tmp_path / "params.yaml"
    params.write_text(yaml.safe_dump({"tokenizer": {"vocab_size": 400, "special_tokens": ["[table]"],
                                                    "max_documents": 200}}))
    path = tokenizer_train_command([mix_dir / "train"], tmp_path / "tok", None, params)
    tok = Tokenizer(path)
    assert tok.vocab_size == 400 and tok.piece_to_id("[table]") == 3
    path = tokenizer_train_command([mix_dir / "train"], tmp_path / "tok2", 380, params)
    assert Tokenizer(path).vocab_size == 380
    assert json.loads((tmp_path / "tok2" / "tokenizer.json").read_text())["vocab_size"] == 380


def test_train_command_runs_on_one_process(mix_dir, tokenizer_dir, tmp_path):
    config = tiny_config(tmp_path / "one.yaml", mix_dir, tokenizer_dir, tmp_path, **{
        "steps": 4, "data.num_workers": 0, "global_batch_tokens": None, "checkpoint.every": 2,
    })
    summary = train_command(config)
    assert summary.steps == 4 and len(summary.losses) == 4 and summary.val_loss is not None
    assert (tmp_path / "ckpt" / "step-00000004" / ".metadata").is_file()
    assert (tmp_path / "hf" / "config.json").is_file() and (tmp_path / "hf" / "tokenizer.model").is_file()
    metrics = json.loads((tmp_path / "metrics.json").read_text())
    assert metrics["world_size"] == 1 and metrics["steps"] == 4
