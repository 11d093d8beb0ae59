import pytest
import torch

from train import attention as A


def _positions(lengths_per_row):
    rows = []
    for lengths in lengths_per_row:
        rows.append(torch.cat([torch.arange(n) for n in lengths]))
    return torch.stack(rows)


def test_masked_sdpa_equals_per_document_reference():
    torch.manual_seed(0)
    positions = _positions([[5, 9, 1, 17], [32]])  # T = 32, a one-token document included
    b, t, hq, hkv, d = 2, 32, 8, 2, 16  # GQA: 4 query heads per KV head
    q, k, v = torch.randn(b, hq, t, d), torch.randn(b, hkv, t, d), torch.randn(b, hkv, t, d)
    meta = A.build_attn_meta(positions, "sdpa", document_masking=True)
    out = A.attention(q, k, v, meta)
    ref = A.per_document_reference(q, k, v, positions)
    torch.testing.assert_close(out, ref, atol=2e-6, rtol=1e-5)
    # And document masking really changes the result (tokens after the first boundary).
    causal = A.attention(q, k, v, A.build_attn_meta(positions, "sdpa", document_masking=False))
    assert not torch.allclose(causal[0, :, 5:], ref[0, :, 5:], atol=1e-3)
    torch.testing.assert_close(causal[1], ref[1], atol=2e-6, rtol=1e-5)  # one document: same as causal


def test_block_causal_mask_and_cu_seqlens():
    positions = _positions([[2, 3], [1, 4]])
    mask = A.block_causal_mask(positions)[0, 0]
    expected = torch.tensor(
        [[1, 0, 0, 0, 0], [1, 1, 0, 0, 0], [0, 0, 1, 0, 0], [0, 0, 1, 1, 0], [0, 0, 1, 1, 1]], dtype=torch.bool
    )
    assert torch.equal(mask, expected)
    cu, longest = A.cu_seqlens_from_positions(positions)
    assert cu.tolist() == [0, 2, 5, 6, 10] and longest == 4 and cu.dtype == torch.int32


DTYPES = (torch.float32, torch.bfloat16, torch.float16, torch.float64)


@pytest.mark.parametrize("device_type", ["cpu", "cuda"])
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("has_flash", [False, True])
@pytest.mark.parametrize("has_varlen", [False, True])
def test_auto_selection_for_every_device_dtype_and_kernel_combination(device_type, dtype, has_flash, has_varlen):
    choice = A.select_impl("auto", device_type, dtype, has_flash, has_varlen)
    half = dtype in (torch.bfloat16, torch.float16)
    if device_type == "cpu" or not half:
        # CPU has no varlen kernels; fp32/fp64 on CUDA would crash flash-attn and varlen_attn.
        assert choice.impl == "sdpa"
    elif has_flash:
        assert choice.impl == "flash_attn"
    elif has_varlen:
        assert choice.impl == "varlen"
    else:
        assert choice.impl == "sdpa"
    # A fallback away from an installed fast kernel is flagged (logged as a warning) with its cause.
    assert choice.fallback == (device_type == "cuda" and not half and (has_flash or has_varlen))
    if device_type == "cuda" and not half:
        assert "float16/bfloat16" in choice.reason and str(dtype) in choice.reason


@pytest.mark.parametrize("requested", ["flash_attn", "varlen"])
@pytest.mark.parametrize("device_type", ["cpu", "cuda"])
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("available", [False, True])
def test_explicit_varlen_backends_run_only_where_they_can(requested, device_type, dtype, available):
    flags = {"has_flash_attn": available and requested == "flash_attn", "has_varlen": available and requested == "varlen"}
    half = dtype in (torch.bfloat16, torch.float16)
    if device_type == "cuda" and half and available:
        assert A.select_impl(requested, device_type, dtype, **flags).impl == requested
        return
    with pytest.raises(RuntimeError, match=f"attn_impl={requested} needs") as err:
        A.select_impl(requested, device_type, dtype, **flags)
    message = str(err.value)
    assert ("CUDA" in message) == (device_type != "cuda")
    assert ("float16/bfloat16" in message) == (not half)
    assert (("flash-attn" if requested == "flash_attn" else "torch>=2.10") in message) == (not available)


def test_sdpa_and_unknown_requests():
    for device_type in ("cpu", "cuda"):
        for dtype in DTYPES:
            assert A.select_impl("sdpa", device_type, dtype, True, True).impl == "sdpa"
    with pytest.raises(ValueError, match="attn_impl must be one of"):
        A.select_impl("flex", "cpu", torch.float32, False, False)


def test_cpu_run_resolves_to_sdpa_logs_why_and_really_calls_sdpa(caplog):
    from train.model import ModelArgs, Transformer

    cpu = torch.device("cpu")
    with caplog.at_level("INFO", logger=A.__name__):
        impl = A.resolve_impl("auto", cpu, torch.float32)
    assert impl == "sdpa"
    assert "attention: sdpa (cpu device" in caplog.text
    torch.manual_seed(0)
    model = Transformer(ModelArgs(vocab_size=64, dim=32, n_layers=1, n_heads=4, n_kv_heads=2, hidden_dim=48,
                                  max_seq_len=16)).eval()
    model.init_weights()
    tokens = torch.randint(0, 64, (2, 16))
    positions = _positions([[6, 10], [16]])
    with torch.no_grad(), torch.profiler.profile(activities=[torch.profiler.ProfilerActivity.CPU]) as prof:
        model(tokens, positions, A.build_attn_meta(positions, impl, document_masking=True))
    ops = {event.key for event in prof.key_averages()}
    assert "aten::scaled_dot_product_attention" in ops, sorted(ops)


def test_flash_attn_is_not_imported_by_the_package():
    import subprocess
    import sys

    code = "import sys, train.trainer, train.attention; print('flash_attn' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


@pytest.mark.parametrize("mode, device_type, expected", [
    ("auto", "cuda", torch.bfloat16), ("bf16", "cuda", torch.bfloat16), ("fp32", "cuda", torch.float32),
    ("auto", "cpu", torch.float32), ("bf16", "cpu", torch.bfloat16), ("fp32", "cpu", torch.float32),
])
def test_the_dtype_the_trainer_passes_follows_mixed_precision(mode, device_type, expected):
    from train.config import ParallelConfig
    from train.parallel import compute_dtype, mixed_precision

    cfg = ParallelConfig(mixed_precision=mode)
    assert compute_dtype(cfg, torch.device(device_type)) == expected
    # The FSDP policy computes in the same dtype that attention is selected for.
    assert (mixed_precision(cfg, torch.device(device_type)).param_dtype or torch.float32) == expected
    # So a CUDA run with parallel.mixed_precision: fp32 gets SDPA even with flash-attn installed.
    impl = A.select_impl("auto", device_type, compute_dtype(cfg, torch.device(device_type)), True, True).impl
    assert impl == ("flash_attn" if device_type == "cuda" and expected == torch.bfloat16 else "sdpa")


def _torch_2_10_varlen_attn(query, key, value, cu_seq_q, cu_seq_k, max_q, max_k, is_causal=False, return_aux=None):
    """The signature of torch 2.10's varlen_attn (no window_size, no enable_gqa)."""


def test_varlen_is_probed_by_the_signature_it_is_called_with():
    from torch.nn.attention.varlen import varlen_attn

    from train.attention import VARLEN_KEYWORDS, _torch_varlen, takes_keywords

    assert takes_keywords(varlen_attn, VARLEN_KEYWORDS) and _torch_varlen() is varlen_attn  # torch >= 2.11
    assert not takes_keywords(_torch_2_10_varlen_attn, VARLEN_KEYWORDS)  # an older torch falls back to SDPA
    assert takes_keywords(lambda *a, **kw: None, VARLEN_KEYWORDS)


def test_the_start_up_call_accepts_sdpa_and_reports_a_kernel_that_cannot_run():
    from train.attention import smoke_call

    assert smoke_call("sdpa", torch.device("cpu"), torch.float32) is None
    problem = smoke_call("varlen", torch.device("cpu"), torch.bfloat16)  # torch's varlen_attn is CUDA-only
    assert problem and problem.split(":")[0].endswith("Error")
