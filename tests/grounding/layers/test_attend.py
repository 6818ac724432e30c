"""The shared attention primitive against the plain formula: masked keys, rows without keys,
values of another width (DAB-DETR's conditional cross-attention), the CPU short-reference path
and an additive bias."""

from __future__ import annotations

import math

import torch

from grounding.layers.attend import attend, merge_heads, split_heads


def _plain(q, k, v, mask, bias=None):  # noqa: ANN001, ANN202
    scores = q @ k.transpose(-1, -2) / math.sqrt(q.shape[-1])
    if bias is not None:
        scores = scores + bias
    scores = scores.masked_fill(~mask[:, None, None, :], float("-inf"))
    p = torch.softmax(scores, dim=-1).nan_to_num(0.0)
    return p @ v


def test_matches_the_formula_with_wider_keys_than_values_and_short_references() -> None:
    g = torch.Generator().manual_seed(0)
    for lr in (5, 20):  # below and above the CPU padding threshold
        q, k, v = (
            torch.randn(2, 3, 4, 8, generator=g),
            torch.randn(2, 3, lr, 8, generator=g),
            torch.randn(2, 3, lr, 4, generator=g),
        )
        mask = torch.arange(lr)[None, :] < torch.tensor([[lr], [2]])
        torch.testing.assert_close(attend(q, k, v, mask), _plain(q, k, v, mask), rtol=1e-5, atol=1e-5)
        bias = torch.randn(2, 3, 4, lr, generator=g)
        torch.testing.assert_close(attend(q, k, v, mask, bias), _plain(q, k, v, mask, bias), rtol=1e-5, atol=1e-5)


def test_a_row_without_keys_gives_zeros_and_heads_round_trip() -> None:
    q, k, v = torch.randn(2, 2, 3, 4), torch.randn(2, 2, 5, 4), torch.randn(2, 2, 5, 4)
    mask = torch.tensor([[True] * 5, [False] * 5])
    out = attend(q, k, v, mask)
    assert torch.isfinite(out).all() and (out[1] == 0).all() and out[0].abs().sum() > 0
    x = torch.randn(2, 7, 12)
    torch.testing.assert_close(merge_heads(split_heads(x, 3)), x)


def test_bfloat16_and_cpu_autocast_run_in_float32_and_keep_the_input_type() -> None:
    # CPU SDPA's bfloat16 kernels are slower than float32 ones: attend computes in float32 there
    g = torch.Generator().manual_seed(1)
    q, k, v = torch.randn(2, 2, 6, 8, generator=g), torch.randn(2, 2, 20, 8, generator=g), torch.randn(2, 2, 20, 8)
    mask = torch.arange(20)[None, :] < torch.tensor([[20], [7]])
    bias = torch.randn(2, 2, 6, 20, generator=g)
    qb, kb, vb = (t.bfloat16().requires_grad_() for t in (q, k, v))
    out = attend(qb, kb, vb, mask, bias)
    assert out.dtype == torch.bfloat16
    exact = _plain(qb.detach().float(), kb.detach().float(), vb.detach().float(), mask, bias)
    torch.testing.assert_close(out.float(), exact.bfloat16().float(), rtol=0, atol=0)  # one rounding, at the end
    out.float().sum().backward()
    assert all(t.grad is not None and t.grad.dtype == torch.bfloat16 for t in (qb, kb, vb))
    with torch.autocast("cpu", dtype=torch.bfloat16):  # float32 inputs under autocast stay float32
        auto = attend(q, k, v, mask)
    assert auto.dtype == torch.float32
    torch.testing.assert_close(auto, _plain(q, k, v, mask), rtol=1e-5, atol=1e-5)
