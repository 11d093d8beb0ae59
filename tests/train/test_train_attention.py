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


def test_without_cuda_dispatch_picks_sdpa(monkeypatch):
    cpu = torch.device("cpu")
    # Even where flash-attn and varlen would import, a CPU tensor must go to SDPA.
    monkeypatch.setattr(A, "_flash_attn_varlen", lambda: object())
    monkeypatch.setattr(A, "_torch_varlen", lambda: object())
    assert A.resolve_impl("auto", cpu) == "sdpa"
    assert A.resolve_impl("sdpa", cpu) == "sdpa"
    with pytest.raises(RuntimeError, match="needs CUDA"):
        A.resolve_impl("flash_attn", cpu)
    with pytest.raises(RuntimeError, match="needs CUDA"):
        A.resolve_impl("varlen", cpu)
    with pytest.raises(ValueError):
        A.resolve_impl("flex", cpu)
    # ... while on a CUDA device the same availability selects flash-attn first.
    assert A.resolve_impl("auto", torch.device("cuda", 0)) == "flash_attn"


def test_flash_attn_is_not_imported_by_the_package():
    import subprocess
    import sys

    code = "import sys, train.trainer, train.attention; print('flash_attn' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
