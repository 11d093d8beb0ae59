"""Training on object storage: data, tokenizer, checkpoints, metrics and the Hugging Face export on a
real S3 implementation (moto's server on 127.0.0.1, started here), against the same run on local disk.

The 2-rank runs read the mix's shards and the tokenizer from S3 and write everything there; the
credentials and endpoint of those runs come from the config's `storage_options` alone, and the
test checks that the secret is written nowhere.
"""
from __future__ import annotations

import json
import os

import numpy as np
import pytest
import torch
import yaml

from curation import storage
from curation.tokenizer import Tokenizer
from moto_s3 import make_bucket, moto_s3, s3_environment  # noqa: F401  (moto_s3 is a fixture)
from train import checkpoint as ckpt
from train import hf_io
from train.data import build_loader, local_tokenizer
from train_helpers import losses, tiny_config, torchrun

SECRET = "not-to-be-written-7f3a9c"


def _clear_clients():
    import s3fs

    storage._filesystem.cache_clear()
    s3fs.S3FileSystem.clear_instance_cache()


@pytest.fixture(scope="module")
def bucket(moto_s3, mix_dir, tokenizer_dir):
    """A bucket holding the mix (train/, validation/) and the tokenizer; this process finds moto
    through the standard AWS environment."""
    with pytest.MonkeyPatch.context() as env:
        for key, value in s3_environment(moto_s3).items():
            env.setenv(key, value)
        env.delenv(storage.OPTIONS_ENV, raising=False)
        _clear_clients()
        url = make_bucket(moto_s3, f"train-{os.getpid()}")
        for split in ("train", "validation"):
            for shard in sorted((mix_dir / split).glob("*.parquet")):
                storage.write_bytes(f"{url}/mix/{split}/{shard.name}", shard.read_bytes())
        storage.write_bytes(f"{url}/tokenizer/tokenizer.model", (tokenizer_dir / "tokenizer.model").read_bytes())
        yield url
    _clear_clients()


@pytest.mark.parametrize("workers", [0, 2])
def test_the_loader_reads_the_same_batches_from_s3_and_resumes_there_exactly(bucket, mix_dir, tokenizer_dir, workers):
    """Same plan, same batches, same resume position: local folder vs. its copy on S3 (forked
    DataLoader workers open their own S3 clients)."""
    tokenizer = local_tokenizer(f"{bucket}/tokenizer")
    assert open(tokenizer, "rb").read() == (tokenizer_dir / "tokenizer.model").read_bytes()

    def make(folder):
        return build_loader([folder], tokenizer, 32, 2, rank=1, world_size=2, num_workers=workers, seed=3)

    local, remote = make(mix_dir / "train"), make(f"{bucket}/mix/train")
    assert [u.path.rpartition("/")[2] for u in remote.dataset.units] == [os.path.basename(u.path) for u in local.dataset.units]
    assert remote.dataset.units[0].path.startswith(f"{bucket}/mix/train/part-")
    expected = [b["input_ids"] for _, b in zip(range(8), local)]
    got = []
    for _, batch in zip(range(5), remote):
        got.append(batch["input_ids"])
    state = remote.state_dict()
    resumed = make(f"{bucket}/mix/train")
    resumed.load_state_dict(state)
    got += [b["input_ids"] for _, b in zip(range(3), resumed)]
    assert all(torch.equal(a, b) for a, b in zip(expected, got, strict=True))


def test_only_complete_checkpoints_on_s3_are_resumed_from_and_pruning_removes_interrupted_saves(bucket):
    """meta.json, written last, says a step folder is complete: a save killed before it (DCP's
    files there, no marker) is never the latest, and pruning removes it."""
    folder = f"{bucket}/prune/ckpt"
    for step in (3, 6, 9):
        storage.write_bytes(storage.join(ckpt.step_dir(folder, step), ".metadata"), b"dcp")
        storage.write_bytes(storage.join(ckpt.step_dir(folder, step), "__0_0.distcp"), b"shard")
    for step in (3, 6):
        storage.write_json(storage.join(ckpt.step_dir(folder, step), ckpt.META), {"step": step})
    assert ckpt.latest_checkpoint(folder) == f"{folder}/step-00000006"
    with pytest.raises(Exception, match="not a complete training checkpoint"):
        ckpt.read_meta(ckpt.step_dir(folder, 9))
    ckpt.Checkpointer(folder, every=3, keep_last=1, rank=0, world_size=1)._prune()
    assert [storage.name(p) for p in storage.folders(folder)] == ["step-00000006"]
    assert ckpt.latest_checkpoint(f"{bucket}/no-such-run") is None


@pytest.fixture(scope="module")
def local_run(mix_dir, tokenizer_dir, tmp_path_factory):
    """The uninterrupted 2-rank run on local disk: 12 steps."""
    run_dir = tmp_path_factory.mktemp("local_run")
    config = tiny_config(run_dir / "config.yaml", mix_dir, tokenizer_dir, run_dir)
    torchrun(["-m", "train.launch", "--config", str(config)])
    return run_dir


@pytest.fixture(scope="module")
def s3_run(bucket, moto_s3, mix_dir, tokenizer_dir, tmp_path_factory):
    """The same run on S3, stopped after the checkpoint of step 6 and resumed from it (resume: auto)
    to step 12; the credentials come from the config's storage_options alone."""
    work = tmp_path_factory.mktemp("s3_run")
    run = f"{bucket}/runs/tiny"
    config = tiny_config(work / "config.yaml", mix_dir, tokenizer_dir, work, **{
        "data.train": f"{bucket}/mix/train", "data.validation": f"{bucket}/mix/validation",
        "data.tokenizer": f"{bucket}/tokenizer/tokenizer.model", "checkpoint.folder": f"{run}/ckpt",
        "checkpoint.export_hf": f"{run}/hf", "checkpoint.resume": "auto", "metrics.folder": run,
        "metrics.dvc_metrics": f"{run}/metrics.json",
    })
    cfg = yaml.safe_load(config.read_text())
    cfg["storage_options"] = {"s3": {"endpoint_url": moto_s3, "key": "testing", "secret": SECRET}}
    config.write_text(yaml.safe_dump(cfg))
    outputs = []
    with pytest.MonkeyPatch.context() as env:
        for key in s3_environment(moto_s3):  # nothing from the environment: the config says it all
            env.delenv(key)
        for extra in (["--set", "steps=6", "--set", "checkpoint.export_hf=null"], []):
            proc = torchrun(["-m", "train.launch", "--config", str(config), *extra])
            outputs.append(proc.stdout + proc.stderr)
    return run, outputs


def _s3_losses(run: str) -> dict[int, float]:
    return {r["step"]: r["loss"] for r in map(json.loads, storage.read_text(f"{run}/metrics.jsonl").splitlines())}


def test_a_run_resumed_from_s3_equals_the_uninterrupted_local_run(local_run, s3_run):
    run, outputs = s3_run
    assert "resumed from s3://" in outputs[1]
    expected, got = losses(local_run), _s3_losses(run)
    assert sorted(got) == sorted(expected) == list(range(1, 13))  # each step once, also across the resume
    assert got == expected  # exact, not approx
    val = {r["step"]: r.get("val_loss") for r in map(json.loads, storage.read_text(f"{run}/metrics.jsonl").splitlines())}
    assert val[12] == json.loads((local_run / "metrics.jsonl").read_text().splitlines()[-1])["val_loss"]
    assert json.loads(storage.read_text(f"{run}/metrics.json"))["steps"] == 12

    steps = [storage.name(p) for p in storage.folders(f"{run}/ckpt")]
    assert steps == ["step-00000006", "step-00000012"] and ckpt.latest_checkpoint(f"{run}/ckpt") == f"{run}/ckpt/step-00000012"
    meta = ckpt.read_meta(f"{run}/ckpt/step-00000012")
    assert meta["step"] == 12 and meta["layout"]["world_size"] == 2 and "storage_options" not in meta["config"]


def test_the_hf_export_on_s3_loads_back_with_the_local_runs_parameters(local_run, s3_run):
    run, _ = s3_run
    args, state = hf_io.load_hf(f"{run}/hf")
    local_args, local_state = hf_io.load_hf(local_run / "hf")
    assert args == local_args and sorted(state) == sorted(local_state)
    assert all(torch.equal(state[k], local_state[k]) for k in state)  # the same parameters, bit for bit
    for name in (hf_io.TOKENIZER_MODEL, hf_io.TOKENIZER_CONFIG, hf_io.CONFIG):
        assert storage.read_bytes(f"{run}/hf/{name}") == (local_run / "hf" / name).read_bytes()


def test_the_secret_in_storage_options_is_written_nowhere(bucket, s3_run):
    run, outputs = s3_run
    written = storage.walk_files(run)
    assert any(p.endswith("/.metadata") for p in written) and any(p.endswith(".safetensors") for p in written)
    leaks = [p for p in written if SECRET.encode() in storage.read_bytes(p)]
    assert leaks == [] and not any(SECRET in out for out in outputs)


@pytest.mark.parametrize("source", ["hf", "ckpt/step-00000012"])
def test_init_from_a_hugging_face_export_or_a_step_folder_on_s3(s3_run, local_run, mix_dir, tokenizer_dir, tmp_path, source):
    """Weights only, from the S3 run's export or checkpoint, into a fresh one-process run."""
    from train.launch import run as launch

    run, _ = s3_run
    config = tiny_config(tmp_path / "init.yaml", mix_dir, tokenizer_dir, tmp_path, **{
        "checkpoint.init_from": f"{run}/{source}", "checkpoint.export_hf": None, "checkpoint.every": 0,
        "data.num_workers": 0, "steps": 1, "global_batch_tokens": None, "metrics.val_batches": 1,
    })
    summary = launch(config)
    trained = losses(local_run)
    assert summary.start_step == 0 and abs(summary.losses[0] - trained[12]) < 0.3 < trained[1] - summary.losses[0]


def test_pre_tokenized_shards_on_s3_give_every_token_of_an_epoch_once(bucket, tokenizer_dir, tmp_path):
    """`data.column: tokens` from S3: 2 ranks x 2 loader workers read one epoch, every token at most
    once and all but the last partial batch, the same batches as from local disk."""
    from test_train_epoch import batches_of, check_epoch, tokens_read, write_corpus

    lengths = np.random.default_rng(4).integers(5, 300, size=90)
    docs = write_corpus(tmp_path / "tokens", lengths, n_shards=3, row_group_rows=7)
    for shard in sorted((tmp_path / "tokens").glob("*.parquet")):
        storage.write_bytes(f"{bucket}/tokenized/{shard.name}", shard.read_bytes())
    eos, local_rows, remote_rows = Tokenizer(tokenizer_dir).eos_id, [], []
    for rank in range(2):
        for folder, rows in ((tmp_path / "tokens", local_rows), (f"{bucket}/tokenized", remote_rows)):
            loader = build_loader([folder], str(tokenizer_dir), 16, 2, rank, 2, num_workers=2, seed=9, column="tokens")
            for logical in range(2):
                rows += batches_of(loader, logical, loader.dataset.batches_per_epoch)
    assert all(torch.equal(a, b) for a, b in zip(local_rows, remote_rows, strict=True))
    check_epoch(tokens_read(remote_rows, eos), docs, logical_workers=4, need=2 * 17)
