"""Every shipped training config loads and its global batch divides on the world sizes it claims."""
from pathlib import Path

import pytest
import yaml

from train.config import ConfigError, load_config
from train.optim import accumulation_steps

CONFIGS = sorted((Path(__file__).resolve().parents[2] / "configs" / "train").glob("*.yaml"))


def test_the_configs_are_found():
    assert {p.stem for p in CONFIGS} >= {"tiny-cpu", "meditron-7b", "meditron-70b", "bench-1b-h100"}


@pytest.mark.parametrize("path", CONFIGS, ids=lambda p: p.stem)
def test_global_batch_divides_on_every_claimed_world_size(path):
    cfg = load_config(path)  # the project's own validation runs here
    assert cfg.parallel.world_sizes, f"{path.name} does not say which world sizes it is for"
    d = cfg.data
    for world in cfg.parallel.world_sizes:
        accum = accumulation_steps(cfg.global_batch_tokens, world, d.micro_batch_size, d.seq_len)
        tokens = accum * world * d.micro_batch_size * d.seq_len
        assert tokens == (cfg.global_batch_tokens or world * d.micro_batch_size * d.seq_len), (path.name, world)


@pytest.mark.parametrize("name, worlds, sequences, seq_len, lr", [
    # MEDITRON's published recipe (reference/meditron.md §4.2): 1,600 x 2,048 and 512 x 4,096 tokens.
    ("meditron-7b", {8, 16, 32, 64}, 1600, 2048, 3e-4),
    ("meditron-70b", {64, 128}, 512, 4096, 1.5e-4),
])
def test_meditron_configs_keep_the_published_batch_on_their_clusters(name, worlds, sequences, seq_len, lr):
    cfg = load_config(Path(CONFIGS[0].parent / f"{name}.yaml"))
    assert worlds <= set(cfg.parallel.world_sizes)
    assert cfg.data.seq_len == seq_len and cfg.global_batch_tokens == sequences * seq_len
    assert cfg.optim.lr == lr and cfg.optim.warmup_steps == 2000 and cfg.optim.betas == (0.9, 0.95)
    for world in worlds:  # whole sequences per rank, whole micro-batches per step
        assert sequences % (world * cfg.data.micro_batch_size) == 0


def test_a_batch_that_does_not_divide_on_a_claimed_world_size_is_refused_at_load():
    path = CONFIGS[0].parent / "meditron-7b.yaml"
    # The old setting: 4 rows per GPU gave 3,276,800 / (64 x 4 x 2,048) = 6.25 micro-batches (12.5 on 32).
    with pytest.raises(ConfigError, match="parallel.world_sizes: the global batch does not divide") as err:
        load_config(path, {"data.micro_batch_size": 4})
    message = str(err.value)
    assert "on 64 ranks, global_batch_tokens 3276800 is not a multiple of" in message and "64 x 4 x 2048 = 524288" in message
    assert "on 32 ranks" in message and "on 16 ranks" not in message and "on 8 ranks" not in message
    assert load_config(path, {"data.micro_batch_size": 4, "parallel.world_sizes": [8, 16]}).data.micro_batch_size == 4


@pytest.mark.parametrize("value", [[0], [-8], ["64"], [True], 64])
def test_world_sizes_must_be_a_list_of_positive_rank_counts(tmp_path, value):
    path = tmp_path / "c.yaml"
    path.write_text(yaml.safe_dump({"parallel": {"world_sizes": value}}))
    with pytest.raises(ConfigError, match="parallel.world_sizes"):
        load_config(path)


@pytest.mark.parametrize("path", CONFIGS, ids=lambda p: p.stem)
def test_the_vocabulary_is_the_tokenizers_not_a_constant(path):
    """MEDITRON's 32,017 (Llama-2 + 17 added tokens) is whatever the given tokenizer holds."""
    from train.config import resolve_vocab

    cfg = load_config(path)
    assert cfg.model.vocab_size == "tokenizer"
    assert resolve_vocab(cfg.model, 32017, "tok").vocab_size == 32017
    stated = load_config(path, {"model.vocab_size": 32006}).model
    assert resolve_vocab(stated, 32006, "tok").vocab_size == 32006
    with pytest.raises(ConfigError, match="tok has 32017 pieces but the model's vocab_size is 32006"):
        resolve_vocab(stated, 32017, "tok")
