"""Two-process gloo runs of the real trainer (torchrun as a subprocess on 127.0.0.1)."""
from __future__ import annotations

import json
import math
import pickle

import pytest
import torch
import yaml

from train_helpers import HERE, losses, tiny_config, torchrun


@pytest.fixture(scope="module")
def first_run(mix_dir, tokenizer_dir, tmp_path_factory):
    run_dir = tmp_path_factory.mktemp("run_a")
    config = tiny_config(run_dir / "config.yaml", mix_dir, tokenizer_dir, run_dir)
    proc = torchrun(["-m", "train.launch", "--config", str(config)])
    return run_dir, config, proc


def test_loss_decreases_on_real_shards(first_run):
    run_dir, _, proc = first_run
    loss = losses(run_dir)
    assert sorted(loss) == list(range(1, 13))
    first, last = sum(loss[s] for s in (1, 2, 3)) / 3, sum(loss[s] for s in (10, 11, 12)) / 3
    assert last < first - 0.3, loss
    assert loss[1] == pytest.approx(torch.log(torch.tensor(512.0)).item(), abs=0.3)  # starts near uniform
    metrics = json.loads((run_dir / "metrics.json").read_text())
    assert metrics["steps"] == 12 and metrics["world_size"] == 2 and metrics["val_loss"] is not None
    assert metrics["tokens"] == 12 * 1024 and metrics["mfu"] is None  # no bf16 peak on CPU
    assert "training summary" in proc.stdout and "MFU" in proc.stdout


def test_resume_gives_bit_identical_losses_and_stores_the_data_position(first_run, tmp_path):
    run_dir, config, _ = first_run
    step6 = run_dir / "ckpt" / "step-00000006"
    assert (step6 / ".metadata").is_file() and (step6 / "meta.json").is_file()
    resumed = tmp_path / "resumed"
    cfg = yaml.safe_load(config.read_text())
    cfg["checkpoint"] |= {"resume": str(step6), "folder": str(resumed / "ckpt"), "export_hf": None}
    cfg["metrics"] |= {"folder": str(resumed), "dvc_metrics": str(resumed / "metrics.json")}
    (tmp_path / "resume.yaml").write_text(yaml.safe_dump(cfg))
    torchrun(["-m", "train.launch", "--config", str(tmp_path / "resume.yaml")])
    before, after = losses(run_dir), losses(resumed)
    assert sorted(after) == list(range(7, 13))
    assert all(after[s] == before[s] for s in range(7, 13)), (before, after)  # exact, not approx

    # The data position of each rank is in the checkpoint, mid-epoch.
    from torch.distributed.checkpoint.format_utils import dcp_to_torch_save

    dcp_to_torch_save(step6, tmp_path / "step6.pt")
    saved = torch.load(tmp_path / "step6.pt", weights_only=False)
    for rank in (0, 1):
        blob = saved[f"rank_{rank}"]
        per_rank = pickle.loads(blob.getvalue() if hasattr(blob, "getvalue") else blob)
        data = per_rank["data"]
        assert data["rank"] == rank and data["world_size"] == 2 and data["num_workers"] == 2
        assert all(s["batch"] > 0 for s in data["states"])
        assert all(s["epoch"] == 0 for s in data["states"])  # still inside the first epoch
        assert "rng" in per_rank
    assert saved["train"]["step"] == 6 and saved["train"]["tokens"] == 6 * 1024


def test_two_ranks_train_on_a_shard_with_one_row_group(one_group_dir, mix_dir, tokenizer_dir, tmp_path):
    """The 2-rank demo on a small mix: one shard, one row group, 2 ranks x 2 loader workers."""
    config = tiny_config(tmp_path / "one_group.yaml", mix_dir, tokenizer_dir, tmp_path, **{
        "data.train": str(one_group_dir), "steps": 3, "checkpoint.every": 0, "checkpoint.export_hf": None,
        "metrics.val_batches": 1,
    })
    torchrun(["-m", "train.launch", "--config", str(config)])
    loss = losses(tmp_path)
    assert sorted(loss) == [1, 2, 3] and all(math.isfinite(v) for v in loss.values())
    metrics = json.loads((tmp_path / "metrics.json").read_text())
    assert metrics["world_size"] == 2 and metrics["tokens"] == 3 * 1024


def test_parameters_are_sharded_across_two_ranks(tmp_path):
    torchrun([str(HERE / "dist_sharding.py"), str(tmp_path / "shard")])
    ranks = [json.loads((tmp_path / f"shard.rank{r}.json").read_text()) for r in (0, 1)]
    assert ranks[0]["world"] == 2
    for name, info0 in ranks[0]["params"].items():
        info1 = ranks[1]["params"][name]
        assert info0["dtensor"] and info0["sharded_dim0"], name
        rows = info0["full_shape"][0]
        assert info0["local_shape"][0] + info1["local_shape"][0] == rows
        assert info0["local_shape"][0] == (rows + 1) // 2 < rows
        assert info0["full_matches"] and info1["full_matches"]  # the all-gather gives the original
        if "norm" not in name:  # norms start at all ones; the rest must be different halves
            assert info0["local_sum"] != info1["local_sum"], name


def test_exported_weights_load_as_hugging_face_and_start_a_run(first_run, mix_dir, tokenizer_dir, tmp_path):
    """The export of the first run initialises a new 2-rank run (weights only, broadcast from rank 0)."""
    from train import hf_io

    run_dir, _, _ = first_run
    args, state = hf_io.load_hf(run_dir / "hf")
    assert args.vocab_size == 512 and args.n_kv_heads == 2 and "layers.1.feed_forward.w2.weight" in state
    config = tiny_config(tmp_path / "init.yaml", mix_dir, tokenizer_dir, tmp_path, **{
        "checkpoint.init_from": str(run_dir / "hf"), "checkpoint.export_hf": None, "checkpoint.every": 0,
        "data.num_workers": 0, "steps": 2, "global_batch_tokens": None,
    })
    torchrun(["-m", "train.launch", "--config", str(config)])
    fresh, started = losses(run_dir), losses(tmp_path)
    # Started from the trained weights: the first loss is near where the first run ended,
    # far below a from-scratch start; and it is a new run (step 1, not 13).
    assert sorted(started) == [1, 2]
    assert started[1] < fresh[1] - 0.3
    assert abs(started[1] - fresh[12]) < 0.3


def test_config_mismatch_with_checkpoint_is_a_clear_error(first_run, mix_dir, tokenizer_dir, tmp_path):
    from train.config import ConfigError
    from train.launch import run

    run_dir, _, _ = first_run
    config = tiny_config(tmp_path / "bad.yaml", mix_dir, tokenizer_dir, tmp_path, **{
        "model.hidden_dim": 96, "checkpoint.resume": str(run_dir / "ckpt" / "step-00000006"), "data.num_workers": 0,
    })
    with pytest.raises(ConfigError) as err:
        run(config)
    assert "does not match the config" in str(err.value)
    assert "model.hidden_dim: checkpoint 160 != config 96" in str(err.value)
    assert "world_size: checkpoint 2 != config 1" in str(err.value)


def test_tokenizer_vocabulary_mismatch_is_a_clear_error(mix_dir, tokenizer_dir, tmp_path):
    from train.config import ConfigError
    from train.launch import run

    config = tiny_config(tmp_path / "vocab.yaml", mix_dir, tokenizer_dir, tmp_path, **{"model.vocab_size": 32000})
    with pytest.raises(ConfigError, match="tokenizer/vocabulary mismatch: .* 512 pieces .* vocab_size is 32000"):
        run(config)
