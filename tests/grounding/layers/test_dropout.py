from __future__ import annotations

import pytest
import torch

from grounding.layers import Dropout
from grounding.layers.dropout import keep_mask


@pytest.mark.parametrize("p", [0.1, 0.2, 0.5])
def test_keep_rate_is_one_minus_p(p: float) -> None:
    torch.manual_seed(0)
    mask = keep_mask(torch.Size([1_000, 1_001]), p)  # not a multiple of 4: the tail is used too
    assert mask.shape == (1_000, 1_001) and mask.dtype == torch.bool
    # 1M Bernoulli(1 - p) draws: standard error <= 5e-4
    assert abs(mask.float().mean().item() - (1 - p)) < 3e-3


def test_mask_bits_are_not_correlated_between_neighbours() -> None:
    torch.manual_seed(1)
    m = keep_mask(torch.Size([400_000]), 0.5).float().view(-1, 4)  # four slices of one 64-bit word
    corr = torch.corrcoef(m.T)
    assert (corr - torch.eye(4)).abs().max() < 0.01


def test_kept_elements_are_scaled_and_dropped_ones_are_zero() -> None:
    torch.manual_seed(2)
    x = torch.randn(64, 128)
    out = Dropout(0.2).train()(x)
    kept = out != 0
    torch.testing.assert_close(out[kept], x[kept] / 0.8)
    assert 0.7 < kept.float().mean().item() < 0.9


def test_same_seed_same_mask_and_gradient_is_mask_times_scale() -> None:
    drop = Dropout(0.3).train()
    x = torch.randn(8, 50, requires_grad=True)
    torch.manual_seed(3)
    a = drop(x)
    torch.manual_seed(3)
    b = drop(x)
    torch.testing.assert_close(a, b)
    (grad,) = torch.autograd.grad(a.sum(), x)
    torch.testing.assert_close(grad, (a != 0).float() / 0.7)


def test_eval_mode_and_zero_rate_are_identity() -> None:
    x = torch.randn(5, 6)
    assert Dropout(0.4).eval()(x) is x
    assert Dropout(0.0).train()(x) is x


def test_rate_outside_zero_one_is_an_error() -> None:
    with pytest.raises(ValueError, match=r"\[0, 1\).*1.0"):
        Dropout(1.0)
