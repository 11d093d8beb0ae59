import json

import pytest
import torch

from train import hf_io
from train.attention import build_attn_meta
from train.model import ModelArgs, Transformer


def _model(**kw):
    args = ModelArgs(vocab_size=96, dim=32, n_layers=3, n_heads=4, n_kv_heads=2, hidden_dim=80, max_seq_len=64, **kw)
    torch.manual_seed(0)
    model = Transformer(args)
    model.init_weights()
    return model.eval()


def _logits(model, tokens):
    positions = torch.arange(tokens.size(1)).expand_as(tokens)
    with torch.no_grad():
        return model(tokens, positions, build_attn_meta(positions, "sdpa", document_masking=True))


@pytest.mark.parametrize("tie", [False, True])
def test_hugging_face_round_trip_gives_identical_logits(tmp_path, tie):
    model = _model(tie_embeddings=tie)
    tokens = torch.randint(0, 96, (2, 20), generator=torch.Generator().manual_seed(1))
    # A small shard limit forces several files and an index, as real 7B/70B checkpoints have.
    files = hf_io.save_hf(tmp_path, model.args, model.state_dict(), dtype=torch.float32, max_shard_bytes=20_000)
    assert len(files) > 1 and (tmp_path / hf_io.INDEX).is_file()
    index = json.loads((tmp_path / hf_io.INDEX).read_text())
    assert "model.layers.0.self_attn.q_proj.weight" in index["weight_map"]
    assert ("lm_head.weight" in index["weight_map"]) is (not tie)

    args, state = hf_io.load_hf(tmp_path)
    assert args == model.args
    again = Transformer(args)
    again.load_state_dict(state, strict=True)
    again.eval()
    assert torch.equal(_logits(model, tokens), _logits(again, tokens))


def test_resize_for_added_special_tokens_keeps_existing_logits(tmp_path):
    model = _model()
    tokens = torch.randint(0, 96, (1, 16), generator=torch.Generator().manual_seed(2))
    args, state = hf_io.resize_vocab(model.args, model.state_dict(), 102)
    assert args.vocab_size == 102 and state["tok_embeddings.weight"].shape == (102, 32)
    bigger = Transformer(args)
    bigger.load_state_dict(state)
    bigger.eval()
    assert torch.equal(_logits(bigger, tokens)[..., :96], _logits(model, tokens))
    with pytest.raises(ValueError, match="shrink"):
        hf_io.resize_vocab(model.args, model.state_dict(), 90)


def _rewrite_config(folder, edit):
    config = json.loads((folder / "config.json").read_text())
    edit(config)
    (folder / "config.json").write_text(json.dumps(config))


@pytest.mark.parametrize("form, expected", [
    ({"rope_theta": 500000.0, "rope_scaling": None}, 500000.0),                      # transformers 4
    ({"rope_theta": 500000.0, "rope_scaling": {"type": "default"}}, 500000.0),       # older 4.x spelling
    ({}, 10000.0),                                                                     # Llama's default
    ({"rope_parameters": {"rope_type": "default", "rope_theta": 500000.0}}, 500000.0),  # transformers 5
    ({"rope_parameters": {"rope_type": "default", "rope_theta": 500000}}, 500000.0),    # an int on the Hub
    ({"rope_parameters": {"rope_type": "default"}, "rope_theta": 250000.0}, 250000.0),  # theta outside the dict
    ({"rope_parameters": {"rope_type": "default", "rope_theta": 500000.0}, "rope_scaling": None}, 500000.0),
])
def test_rope_theta_is_read_from_the_old_and_the_new_config_form(form, expected):
    config = {"model_type": "llama", "vocab_size": 96, "hidden_size": 32, "num_hidden_layers": 1,
              "num_attention_heads": 4, "intermediate_size": 80} | form
    args = hf_io.args_from_hf_config(config)
    assert args.rope_theta == expected and isinstance(args.rope_theta, float)


def test_a_transformers5_checkpoint_loads_with_its_rope_theta_and_gives_the_same_logits(tmp_path):
    model = _model(rope_theta=500000.0)
    hf_io.save_hf(tmp_path, model.args, model.state_dict(), dtype=torch.float32)

    def to_v5(config):  # what transformers 5 writes: no top-level rope_theta / rope_scaling
        config.pop("rope_theta", None)
        config.pop("rope_scaling", None)
        config["rope_parameters"] = {"rope_type": "default", "rope_theta": 500000.0}

    _rewrite_config(tmp_path, to_v5)
    args, state = hf_io.load_hf(tmp_path)
    assert args == model.args
    again = Transformer(args)
    again.load_state_dict(state)
    tokens = torch.randint(0, 96, (1, 24), generator=torch.Generator().manual_seed(4))
    assert torch.equal(_logits(model, tokens), _logits(again.eval(), tokens))


def test_written_config_states_rope_the_same_way_in_both_forms(tmp_path):
    model = _model(rope_theta=500000.0)
    hf_io.save_hf(tmp_path, model.args, model.state_dict())
    config = json.loads((tmp_path / "config.json").read_text())
    assert config["rope_theta"] == 500000.0  # transformers 4 reads this
    assert config["rope_parameters"] == {"rope_type": "default", "rope_theta": 500000.0}  # transformers 5 this
    assert "rope_scaling" not in config  # transformers 5 would let a rope_scaling dict win
    assert hf_io.args_from_hf_config(config).rope_theta == 500000.0


@pytest.mark.parametrize("edit, match", [
    (lambda c: c.update(rope_scaling={"rope_type": "llama3", "factor": 8.0}), "rope_type='llama3'"),
    (lambda c: c.update(rope_scaling={"type": "linear", "factor": 2.0}), "rope_type='linear'"),
    (lambda c: c.update(rope_parameters={"rope_type": "llama3", "rope_theta": 500000.0, "factor": 8.0,
                                         "low_freq_factor": 1.0, "high_freq_factor": 4.0,
                                         "original_max_position_embeddings": 8192}), "rope_type='llama3'"),
    (lambda c: c.update(rope_parameters={"rope_type": "yarn", "rope_theta": 1e6, "factor": 4.0}), "rope_type='yarn'"),
    # transformers 5 lets a non-null rope_scaling win over rope_parameters, so do we.
    (lambda c: c.update(rope_scaling={"rope_type": "dynamic", "factor": 2.0}), "rope_type='dynamic'"),
    (lambda c: c.update(rope_parameters={"full_attention": {"rope_type": "default", "rope_theta": 1e6},
                                         "sliding_attention": {"rope_type": "default", "rope_theta": 1e4}}),
     "per-layer-type"),
])
def test_unsupported_rope_is_a_clear_error(tmp_path, edit, match):
    model = _model()
    hf_io.save_hf(tmp_path, model.args, model.state_dict())
    _rewrite_config(tmp_path, edit)
    with pytest.raises(ValueError, match=match):
        hf_io.load_hf(tmp_path)
    with pytest.raises(ValueError, match="not supported by train/model.py"):
        hf_io.load_hf(tmp_path, weights=False)


def test_gqa_and_rope_theta_change_the_model():
    a = _model()
    b = Transformer(ModelArgs(**(a.args.to_dict() | {"rope_theta": 500000.0})))
    b.load_state_dict(a.state_dict())
    b.eval()
    tokens = torch.randint(0, 96, (1, 24), generator=torch.Generator().manual_seed(3))
    assert not torch.allclose(_logits(a, tokens), _logits(b, tokens))
    assert a.layers["0"].attention.wk.weight.shape == (16, 32)  # 2 KV heads x head_dim 8
