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


def test_unsupported_checkpoint_is_refused(tmp_path):
    model = _model()
    hf_io.save_hf(tmp_path, model.args, model.state_dict())
    config = json.loads((tmp_path / "config.json").read_text())
    config["rope_scaling"] = {"rope_type": "llama3", "factor": 8.0}
    (tmp_path / "config.json").write_text(json.dumps(config))
    with pytest.raises(ValueError, match="rope_scaling"):
        hf_io.load_hf(tmp_path)


def test_gqa_and_rope_theta_change_the_model():
    a = _model()
    b = Transformer(ModelArgs(**(a.args.to_dict() | {"rope_theta": 500000.0})))
    b.load_state_dict(a.state_dict())
    b.eval()
    tokens = torch.randint(0, 96, (1, 24), generator=torch.Generator().manual_seed(3))
    assert not torch.allclose(_logits(a, tokens), _logits(b, tokens))
    assert a.layers["0"].attention.wk.weight.shape == (16, 32)  # 2 KV heads x head_dim 8
