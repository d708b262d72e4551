"""Tests of NF4 block-wise quantisation (chapter 21, fine-tuning)."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from genai_foundations.algorithms.quantization import (Linear4bit, dequantize_blockwise, nf4_code_book, pack_4bit,
                                                       quantization_error_bound, quantize_blockwise, quantize_linears,
                                                       uniform_code_book, unpack_4bit)

# The 16 NF4 levels as published: Dettmers et al. (2023), QLoRA, appendix E, and bitsandbytes
# (bitsandbytes/functional.py, the NF4 table of the 4-bit kernels).
PUBLISHED_NF4 = [-1.0, -0.6961928009986877, -0.5250730514526367, -0.39491748809814453, -0.28444138169288635,
                 -0.18477343022823334, -0.09105003625154495, 0.0, 0.07958029955625534, 0.16093020141124725,
                 0.24611230194568634, 0.33791524171829224, 0.44070982933044434, 0.5626170039176941,
                 0.7229568362236023, 1.0]


def test_nf4_code_book_equals_the_published_levels():
    ours = nf4_code_book(dtype=torch.float64)
    torch.testing.assert_close(ours, torch.tensor(PUBLISHED_NF4, dtype=torch.float64), atol=1e-6, rtol=0)
    assert ours[7] == 0 and ours[0] == -1 and ours[-1] == 1     # an exact zero and both ends


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("block_size", [16, 64])
def test_round_trip_error_within_the_bound(dtype, block_size):
    g = torch.Generator().manual_seed(0)
    w = (torch.randn(32, 48, generator=g, dtype=torch.float64) * torch.rand(32, 1, generator=g, dtype=torch.float64)).to(dtype)
    w[0, :block_size] = 0.0                                       # a block of zeros
    code = nf4_code_book(dtype=dtype)
    codes, absmax = quantize_blockwise(w, code, block_size)
    assert codes.dtype == torch.uint8 and codes.shape == w.shape and int(codes.max()) <= 15
    assert absmax.shape == (w.numel() // block_size,) and absmax.dtype == dtype
    w_hat = dequantize_blockwise(codes, absmax, code)
    assert w_hat.dtype == dtype and w_hat.shape == w.shape
    err = (w - w_hat).abs().reshape(-1, block_size).amax(dim=1)
    bound = quantization_error_bound(absmax, code)
    eps = 4 * torch.finfo(dtype).eps * absmax
    assert (err <= bound + eps).all()
    assert torch.all(w_hat[0, :block_size] == 0)
    # each block's largest |w| is exact, and the codes are the nearest levels (brute force)
    blocks, hat_blocks = w.reshape(-1, block_size), w_hat.reshape(-1, block_size)
    idx = blocks.abs().argmax(dim=1, keepdim=True)
    torch.testing.assert_close(hat_blocks.gather(1, idx), blocks.gather(1, idx))
    scaled = blocks / absmax.clamp_min(1e-30)[:, None]
    nearest = (scaled[..., None] - code).abs().min(dim=-1).values
    chosen = (scaled - code[codes.long().reshape(-1, block_size)]).abs()
    assert (chosen <= nearest + 8 * torch.finfo(dtype).eps).all()


def test_bound_is_nearly_attained_and_nf4_beats_uniform_on_gaussian_weights():
    code = nf4_code_book(dtype=torch.float64)
    gap = (code[1:] - code[:-1]).max()                            # between -1 and -0.6961...
    assert abs(float(gap) - (1 - 0.6961928009986877)) < 1e-6
    mid = (code[0] + code[1]) / 2 + 1e-9                          # just nearer to -0.6961... than to -1
    w = torch.tensor([1.0, mid] + [0.0] * 62, dtype=torch.float64)
    codes, absmax = quantize_blockwise(w, code)
    err = (w - dequantize_blockwise(codes, absmax, code)).abs().max()
    assert err == pytest.approx(float(quantization_error_bound(absmax, code)[0]), abs=1e-8)
    w = torch.randn(256, 256, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    mse = {}
    for name, cb in [("nf4", code), ("uniform", uniform_code_book(torch.float64))]:
        c, a = quantize_blockwise(w, cb)
        mse[name] = float(((w - dequantize_blockwise(c, a, cb)) ** 2).mean())
    assert mse["nf4"] < mse["uniform"]


def test_packing_round_trip():
    codes = torch.randint(0, 16, (6, 10), generator=torch.Generator().manual_seed(2)).to(torch.uint8)
    packed = pack_4bit(codes)
    assert packed.dtype == torch.uint8 and packed.numel() == 30
    assert torch.equal(unpack_4bit(packed, (6, 10)), codes)


def test_linear4bit_and_quantize_linears():
    torch.manual_seed(3)
    lin = nn.Linear(64, 32)
    q = Linear4bit(lin)
    x = torch.randn(5, 64)
    w_hat = q.dequantized_weight()
    torch.testing.assert_close(q(x), x @ w_hat.T + lin.bias, atol=1e-5, rtol=1e-5)
    bound = quantization_error_bound(q.absmax, q.code).repeat_interleave(64).reshape(32, 64)
    assert ((w_hat - lin.weight).abs() <= bound + 1e-6).all()
    assert q.packed.numel() == 32 * 64 // 2 and q.absmax.numel() == 32 * 64 // 64
    assert list(q.parameters()) == []                             # nothing trains
    model = nn.Sequential(nn.Linear(64, 64), nn.ReLU(), nn.Linear(64, 8))
    names = quantize_linears(model, target=lambda name, m: m.out_features == 64)
    assert names == ["0"] and isinstance(model[0], Linear4bit) and isinstance(model[2], nn.Linear)


def test_bad_input():
    with pytest.raises(ValueError, match="16 levels"):
        quantize_blockwise(torch.randn(64), torch.linspace(-1, 1, 8))
    with pytest.raises(ValueError, match="blocks"):
        quantize_blockwise(torch.randn(65), nf4_code_book())
    with pytest.raises(ValueError, match="floating"):
        quantize_blockwise(torch.ones(64, dtype=torch.long), nf4_code_book())
