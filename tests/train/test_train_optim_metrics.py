
import pytest
import torch

from train.config import ConfigError, OptimConfig
from train.metrics import flops_per_token, matmul_params, peak_flops
from train.model import MODEL_PRESETS, ModelArgs, Transformer
from train.optim import OPTIM_PRESETS, accumulation_steps, horizon, lr_lambda, resolve_preset


def test_mfu_formula_matches_hand_computed_llama3_8b():
    args = ModelArgs(**MODEL_PRESETS["llama3-8b"])
    # By hand, per layer: q and o 4096x4096, k and v 4096x1024, SwiGLU 3 x 4096x14336, 2 norms.
    per_layer = 2 * 4096 * 4096 + 2 * 4096 * 1024 + 3 * 4096 * 14336 + 2 * 4096
    n = 32 * per_layer + 4096 + 128256 * 4096  # + final norm + untied LM head; no embedding lookup
    assert n == 7_504_924_672
    attention = 12 * 32 * 32 * 128 * 8192
    assert flops_per_token(args, 8192) == 6 * n + attention
    assert flops_per_token(args, 8192) == pytest.approx(5.79e10, rel=2e-3)  # reference/training.md §2
    # torchtitan's 5,762 tok/s/GPU on H100 SXM is 33.7% MFU (reference/training.md §2).
    assert flops_per_token(args, 8192) * 5762 / 989e12 == pytest.approx(0.337, abs=0.001)


def test_matmul_params_agrees_with_the_module():
    for tie in (False, True):
        args = ModelArgs(vocab_size=100, dim=32, n_layers=2, n_heads=4, n_kv_heads=2, hidden_dim=64, tie_embeddings=tie)
        model = Transformer(args)
        counted = model.num_params(exclude_embedding=True) + (args.vocab_size * args.dim if tie else 0)
        assert matmul_params(args) == counted


def test_no_peak_on_cpu_unless_given():
    assert peak_flops(torch.device("cpu")) is None
    assert peak_flops(torch.device("cpu"), 1e12) == 1e12


def test_cosine_schedule_with_warmup_min_ratio_and_horizon():
    warm, hor, ratio = 10, 110, 0.1
    assert lr_lambda(0, warm, hor, ratio) == pytest.approx(0.1)
    assert lr_lambda(9, warm, hor, ratio) == pytest.approx(1.0)
    assert lr_lambda(60, warm, hor, ratio) == pytest.approx(ratio + (1 - ratio) * 0.5)  # halfway
    assert lr_lambda(110, warm, hor, ratio) == pytest.approx(ratio)
    assert lr_lambda(500, warm, hor, ratio) == pytest.approx(ratio)  # flat after the horizon
    # MEDITRON's trick: a 2-epoch horizon trained for 1 epoch ends well above the minimum.
    assert lr_lambda(60, warm, 2 * 110 - warm, ratio) > 0.8


def test_meditron_presets_and_horizon_in_tokens():
    cfg = resolve_preset(OptimConfig(preset="meditron-70b", warmup_steps=5), explicit={"warmup_steps"})
    assert cfg.lr == 1.5e-4 and cfg.betas == (0.9, 0.95) and cfg.eps == 1e-5 and cfg.weight_decay == 0.1
    assert cfg.grad_clip == 1.0 and cfg.min_lr_ratio == 0.1 and cfg.warmup_steps == 5
    assert OPTIM_PRESETS["meditron-7b"]["lr"] == 3e-4
    # 70B: 512 x 4096 tokens per step; 2 epochs of 46.7B tokens.
    assert horizon(cfg, steps=23000, tokens_per_step=512 * 4096) == 2 * 46_700_000_000 // (512 * 4096)
    assert horizon(OptimConfig(), steps=77, tokens_per_step=10) == 77
    with pytest.raises(ConfigError, match="unknown optim preset"):
        resolve_preset(OptimConfig(preset="gpt"))


def test_gradient_accumulation_from_global_batch_tokens():
    assert accumulation_steps(4 * 2 * 3 * 64, world_size=2, micro_batch_size=3, seq_len=64) == 4
    assert accumulation_steps(None, 8, 1, 4096) == 1
    with pytest.raises(ConfigError, match="not a multiple"):
        accumulation_steps(1000, 2, 3, 64)
