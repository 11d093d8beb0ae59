"""metrics.jsonl of a run interrupted after a checkpoint and resumed equals that of an uninterrupted run."""
import json

import pytest

from train.config import load_config
from train.launch import run
from train.metrics import MetricsLogger
from train.parallel import destroy_distributed, init_distributed
from train.trainer import Trainer
from train_helpers import tiny_config


class CrashBeforeStep(Trainer):
    """The real trainer, killed by an exception when it is about to train `crash_at`."""

    crash_at = 5

    def train_step(self, batches, timer):
        if self.step + 1 == self.crash_at:
            raise RuntimeError("injected crash")
        return super().train_step(batches, timer)


def records(folder):
    return [json.loads(line) for line in (folder / "metrics.jsonl").read_text().splitlines()]


def config_for(folder, mix_dir, tokenizer_dir):
    # One process, checkpoints at 3 and 6, validation at 6: a crash before step 5 leaves step 4
    # logged after the last checkpoint (step 3).
    folder.mkdir()
    return tiny_config(folder / "config.yaml", mix_dir, tokenizer_dir, folder, **{
        "steps": 6, "data.num_workers": 0, "global_batch_tokens": None, "checkpoint.every": 3,
        "checkpoint.export_hf": None, "checkpoint.resume": "auto", "metrics.val_batches": 1,
    })


def test_resumed_run_logs_each_step_once_like_an_uninterrupted_run(mix_dir, tokenizer_dir, tmp_path):
    straight = tmp_path / "straight"
    run(config_for(straight, mix_dir, tokenizer_dir))

    interrupted = tmp_path / "interrupted"
    config = config_for(interrupted, mix_dir, tokenizer_dir)
    cfg = load_config(config)
    info = init_distributed(cfg.device)
    try:
        with pytest.raises(RuntimeError, match="injected crash"):
            CrashBeforeStep(cfg, info).train()
    finally:
        destroy_distributed()
    assert [r["step"] for r in records(interrupted)] == [1, 2, 3, 4]  # step 4 logged, its checkpoint never made
    assert sorted(p.name for p in (interrupted / "ckpt").iterdir()) == ["step-00000003"]

    summary = run(config)  # resume: auto picks up step 3
    assert summary.start_step == 3
    expected, got = records(straight), records(interrupted)
    assert [r["step"] for r in got] == [r["step"] for r in expected] == [1, 2, 3, 4, 5, 6]
    # Resume is exact, so the rewritten log holds the uninterrupted run's values, not a mixture.
    assert [r["loss"] for r in got] == [r["loss"] for r in expected]
    assert [r.get("val_loss") for r in got] == [r.get("val_loss") for r in expected]
    assert not (interrupted / "metrics.jsonl.tmp").exists()


def test_truncation_on_resume_drops_later_steps_and_a_line_cut_off_by_a_kill(tmp_path):
    path = tmp_path / "metrics.jsonl"
    lines = [json.dumps({"step": s, "loss": 1.0 / s}) for s in (1, 2, 3, 4)]
    path.write_text("\n".join(lines) + '\n{"step": 5, "lo')  # killed in the middle of a write
    logger = MetricsLogger(tmp_path, enabled=True, tensorboard=False, resume_step=2)
    logger.log(3, {"loss": 0.5})
    logger.close()
    assert [json.loads(line) for line in path.read_text().splitlines()][:2] == [{"step": 1, "loss": 1.0},
                                                                                {"step": 2, "loss": 0.5}]
    assert [json.loads(line)["step"] for line in path.read_text().splitlines()] == [1, 2, 3]
    # A fresh (not resumed) run starts a new log.
    MetricsLogger(tmp_path, enabled=True, tensorboard=False).close()
    assert path.read_text() == ""
