"""Hugging Face format in and out: config.json + safetensors (single file or sharded with an index).

Weight names map one to one (see `_hf_to_ours`); our RoPE uses HF's rotate-half layout, so no q/k
permutation is needed. `resize_vocab` grows the embedding (and untied head) when special tokens
are added to the tokenizer, as MEDITRON did for `[bib_ref]` and friends.

Folders may be local or URLs (curation.storage): a remote safetensors file is read whole into
memory and written from memory (at most one shard, `max_shard_bytes`, at a time).
"""
from __future__ import annotations

import json
import os
import re

import torch

from curation import storage
from train.model import ModelArgs

TOKENIZER_MODEL = "tokenizer.model"
TOKENIZER_CONFIG = "tokenizer_config.json"
CONFIG = "config.json"
SINGLE = "model.safetensors"
INDEX = "model.safetensors.index.json"

_LAYER = {
    "self_attn.q_proj": "attention.wq",
    "self_attn.k_proj": "attention.wk",
    "self_attn.v_proj": "attention.wv",
    "self_attn.o_proj": "attention.wo",
    "mlp.gate_proj": "feed_forward.w1",
    "mlp.up_proj": "feed_forward.w3",
    "mlp.down_proj": "feed_forward.w2",
    "input_layernorm": "attention_norm",
    "post_attention_layernorm": "ffn_norm",
}
_TOP = {"model.embed_tokens": "tok_embeddings", "model.norm": "norm", "lm_head": "output"}
_HF_LAYER = re.compile(r"^model\.layers\.(\d+)\.(.+)\.weight$")
_OUR_LAYER = re.compile(r"^layers\.(\d+)\.(.+)\.weight$")


def _hf_to_ours(name: str) -> str:
    if m := _HF_LAYER.match(name):
        if m.group(2) in _LAYER:
            return f"layers.{m.group(1)}.{_LAYER[m.group(2)]}.weight"
    elif name.endswith(".weight") and name[: -len(".weight")] in _TOP:
        return _TOP[name[: -len(".weight")]] + ".weight"
    raise KeyError(f"unexpected weight in the Hugging Face checkpoint: {name}")


def _ours_to_hf(name: str) -> str:
    inverse_layer = {v: k for k, v in _LAYER.items()}
    inverse_top = {v: k for k, v in _TOP.items()}
    if m := _OUR_LAYER.match(name):
        return f"model.layers.{m.group(1)}.{inverse_layer[m.group(2)]}.weight"
    return inverse_top[name[: -len(".weight")]] + ".weight"


def rope_theta_from_hf_config(config: dict) -> float:
    """RoPE's base from either config.json form, refusing any RoPE variant train/model.py lacks.

    transformers <= 4 writes top-level `rope_theta` and `rope_scaling` (null, or a dict with
    `rope_type`, or `type` in older files); transformers 5 writes `rope_parameters: {"rope_type": ...,
    "rope_theta": ..., <variant settings>}`. As transformers 5 reads them: a non-null `rope_scaling`
    wins over `rope_parameters`, and a top-level `rope_theta` counts only where the dict has none.
    Only plain RoPE (`default`) is implemented; a scaled variant (llama3, linear, yarn, dynamic, ...)
    would silently change every attention score, so it is an error.
    """
    params = config.get("rope_scaling") or config.get("rope_parameters") or {}
    if not isinstance(params, dict) or any(isinstance(v, dict) for v in params.values()):
        raise ValueError(f"per-layer-type or malformed RoPE parameters {params!r} are not supported by train/model.py")
    rope_type = params.get("rope_type", params.get("type", "default"))
    if rope_type != "default":
        raise ValueError(
            f"RoPE variant rope_type={rope_type!r} ({params}) is not supported by train/model.py: "
            "only plain RoPE (rope_type 'default') is implemented"
        )
    return float(params.get("rope_theta", config.get("rope_theta", 10000.0)))


def args_from_hf_config(config: dict, max_seq_len: int | None = None) -> ModelArgs:
    if config.get("model_type") not in ("llama", None):
        raise ValueError(f"only Llama checkpoints are supported, not model_type={config.get('model_type')!r}")
    if config.get("attention_bias") or config.get("mlp_bias"):
        raise ValueError("checkpoints with attention or MLP biases are not supported")
    if config.get("hidden_act", "silu") != "silu":
        raise ValueError(f"hidden_act {config['hidden_act']!r} is not SwiGLU/silu")
    heads = config["num_attention_heads"]
    return ModelArgs(
        vocab_size=config["vocab_size"],
        dim=config["hidden_size"],
        n_layers=config["num_hidden_layers"],
        n_heads=heads,
        n_kv_heads=config.get("num_key_value_heads") or heads,
        hidden_dim=config["intermediate_size"],
        norm_eps=config.get("rms_norm_eps", 1e-5),
        rope_theta=rope_theta_from_hf_config(config),
        max_seq_len=max_seq_len or config.get("max_position_embeddings", 4096),
        tie_embeddings=bool(config.get("tie_word_embeddings", False)),
    )


def hf_config_from_args(args: ModelArgs, dtype: torch.dtype, bos_id: int = 1, eos_id: int = 2) -> dict:
    return {
        "architectures": ["LlamaForCausalLM"],
        "model_type": "llama",
        "vocab_size": args.vocab_size,
        "hidden_size": args.dim,
        "intermediate_size": args.hidden_dim,
        "num_hidden_layers": args.n_layers,
        "num_attention_heads": args.n_heads,
        "num_key_value_heads": args.n_kv_heads,
        "hidden_act": "silu",
        "rms_norm_eps": args.norm_eps,
        # Both forms, so that transformers 4 (top-level rope_theta) and 5 (rope_parameters) read
        # the same plain RoPE; no rope_scaling key, which transformers 5 would let win.
        "rope_theta": args.rope_theta,
        "rope_parameters": {"rope_type": "default", "rope_theta": args.rope_theta},
        "max_position_embeddings": args.max_seq_len,
        "tie_word_embeddings": args.tie_embeddings,
        "attention_bias": False,
        "mlp_bias": False,
        "bos_token_id": bos_id,
        "eos_token_id": eos_id,
        "torch_dtype": str(dtype).removeprefix("torch."),
    }


def _json_text(data: dict) -> bytes:
    return (json.dumps(data, indent=2) + "\n").encode("utf-8")


def read_safetensors(location: str) -> dict[str, torch.Tensor]:
    from safetensors.torch import load, load_file

    return load_file(storage.local_path(location)) if storage.is_local(location) else load(storage.read_bytes(location))


def write_safetensors(location: str, tensors: dict[str, torch.Tensor], metadata: dict) -> None:
    from safetensors.torch import save, save_file

    if storage.is_local(location):
        save_file(tensors, storage.local_path(location), metadata=metadata)
    else:
        storage.write_bytes(location, save(tensors, metadata=metadata))


def load_hf_state_dict(folder: str | os.PathLike) -> dict[str, torch.Tensor]:
    """All tensors of a (possibly sharded) safetensors checkpoint, under HF names."""
    index = storage.join(folder, INDEX)
    if storage.isfile(index):
        files = sorted(set(storage.read_json(index)["weight_map"].values()))
    elif storage.isfile(storage.join(folder, SINGLE)):
        files = [SINGLE]
    else:
        raise FileNotFoundError(f"{os.fspath(folder)}: neither {SINGLE} nor {INDEX}")
    tensors: dict[str, torch.Tensor] = {}
    for name in files:
        tensors.update(read_safetensors(storage.join(folder, name)))
    return tensors


def is_hf_folder(folder: str | os.PathLike) -> bool:
    return storage.isfile(storage.join(folder, CONFIG))


def load_hf(folder: str | os.PathLike, max_seq_len: int | None = None,
            weights: bool = True) -> tuple[ModelArgs, dict[str, torch.Tensor]]:
    """(model args, state dict under our names) from a HF checkpoint folder (local or a URL).

    `weights=False` reads only config.json and returns an empty state dict."""
    if not is_hf_folder(folder):
        raise FileNotFoundError(f"{os.fspath(folder)}: no {CONFIG}; is this a Hugging Face checkpoint?")
    args = args_from_hf_config(storage.read_json(storage.join(folder, CONFIG)), max_seq_len)
    if not weights:
        return args, {}
    state = {_hf_to_ours(k): v for k, v in load_hf_state_dict(folder).items() if not k.endswith("rotary_emb.inv_freq")}
    if args.tie_embeddings:
        # One tensor under both names, as the model's own state_dict has it (some exporters
        # also write the tied head; the embedding is the one that counts).
        state["output.weight"] = state["tok_embeddings.weight"]
    elif "output.weight" not in state:
        raise ValueError(f"{os.fspath(folder)}: tie_word_embeddings is false but there is no lm_head.weight")
    return args, state


def save_hf(
    folder: str | os.PathLike,
    args: ModelArgs,
    state: dict[str, torch.Tensor],
    dtype: torch.dtype = torch.bfloat16,
    max_shard_bytes: int = 5 * 1024**3,
    bos_id: int = 1,
    eos_id: int = 2,
) -> list[str]:
    """Write config.json and safetensors shards (with an index when there is more than one)."""
    storage.makedirs(folder)
    hf = {}
    for name, tensor in state.items():
        if args.tie_embeddings and name == "output.weight":
            continue
        hf[_ours_to_hf(name)] = tensor.detach().to("cpu", dtype).contiguous()
    # Greedy shards in name order; a tensor never spans two files.
    shards: list[dict[str, torch.Tensor]] = [{}]
    size = 0
    for name in sorted(hf):
        nbytes = hf[name].numel() * hf[name].element_size()
        if shards[-1] and size + nbytes > max_shard_bytes:
            shards.append({})
            size = 0
        shards[-1][name] = hf[name]
        size += nbytes
    written = []
    meta = {"format": "pt"}
    if len(shards) == 1:
        write_safetensors(storage.join(folder, SINGLE), shards[0], meta)
        written.append(storage.join(folder, SINGLE))
    else:
        weight_map = {}
        for i, shard in enumerate(shards, 1):
            name = f"model-{i:05d}-of-{len(shards):05d}.safetensors"
            write_safetensors(storage.join(folder, name), shard, meta)
            written.append(storage.join(folder, name))
            weight_map.update({k: name for k in shard})
        total = sum(t.numel() * t.element_size() for t in hf.values())
        index = {"metadata": {"total_size": total}, "weight_map": dict(sorted(weight_map.items()))}
        storage.write_bytes(storage.join(folder, INDEX), _json_text(index))
    storage.write_bytes(storage.join(folder, CONFIG), _json_text(hf_config_from_args(args, dtype, bos_id, eos_id)))
    return written


@torch.no_grad()
def resize_vocab(args: ModelArgs, state: dict[str, torch.Tensor], new_vocab_size: int) -> tuple[ModelArgs, dict]:
    """Grow the embedding (and untied head) to `new_vocab_size` rows.

    New rows start at the mean of the existing rows (HF's `mean_resizing`): a new token's logit then
    starts near the average instead of at a random value, and existing tokens are unchanged.
    Shrinking would silently drop trained tokens, so it is refused.
    """
    old = args.vocab_size
    if new_vocab_size < old:
        raise ValueError(f"refusing to shrink the vocabulary from {old} to {new_vocab_size}")
    if new_vocab_size == old:
        return args, state
    state = dict(state)
    names = ["tok_embeddings.weight"] + ([] if args.tie_embeddings else ["output.weight"])
    for name in names:
        weight = state[name]
        extra = weight.float().mean(0, keepdim=True).expand(new_vocab_size - old, -1).to(weight.dtype)
        state[name] = torch.cat([weight, extra], dim=0)
    if args.tie_embeddings and "output.weight" in state:
        state["output.weight"] = state["tok_embeddings.weight"]
    new_args = ModelArgs.from_dict(args.to_dict() | {"vocab_size": new_vocab_size})
    return new_args, state


def save_tokenizer(folder: str | os.PathLike, tokenizer) -> None:
    """The run's SentencePiece model and a tokenizer_config.json, so that `AutoTokenizer` loads
    the export as Llama's tokenizer: user-defined pieces (MEDITRON's markers) stay one token."""
    storage.write_bytes(storage.join(folder, TOKENIZER_MODEL), tokenizer.path.read_bytes())
    sp = tokenizer.sp
    config = {
        "tokenizer_class": "LlamaTokenizer",
        "bos_token": sp.id_to_piece(tokenizer.bos_id) if tokenizer.bos_id >= 0 else None,
        "eos_token": sp.id_to_piece(tokenizer.eos_id),
        "unk_token": sp.id_to_piece(sp.unk_id()),
        "add_bos_token": False,  # training packs documents without BOS
        "add_eos_token": False,
        "model_max_length": None,
    }
    storage.write_bytes(storage.join(folder, TOKENIZER_CONFIG), _json_text(config))
