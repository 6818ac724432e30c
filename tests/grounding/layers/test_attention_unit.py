from __future__ import annotations

import numpy as np
import pytest
import torch

from grounding.layers import AttentionUnit
from tests.grounding.layers.fixed_weights import fixed_init, layer_norm, linear, np_params, softmax


def reference(unit: AttentionUnit, t: np.ndarray, tm: np.ndarray, r: np.ndarray, rm: np.ndarray) -> np.ndarray:
    """Eq. (6) written out per sample and per head in float64."""
    p = np_params(unit)
    heads, d = unit.heads, t.shape[-1]
    dh = d // heads
    out = np.zeros_like(t)
    for b in range(t.shape[0]):
        q, k, v = linear(t[b], p, "fc_query"), linear(r[b], p, "fc_key"), linear(r[b], p, "fc_value")
        ctx = np.zeros_like(q)
        for h in range(heads):
            sl = slice(h * dh, (h + 1) * dh)
            attn = softmax(q[:, sl] @ k[:, sl].T / np.sqrt(dh), rm[b][None, :], axis=1)
            ctx[:, sl] = attn @ v[:, sl]
        y = layer_norm(linear(t[b] + ctx, p, "fc_out"), p["norm.weight"], p["norm.bias"])
        out[b] = y * tm[b][:, None]
    return out


def test_attention_unit_matches_reference_with_fixed_weights() -> None:
    torch.manual_seed(0)
    unit = AttentionUnit(dim=8, heads=2, dropout=0.2).eval()
    fixed_init(unit)
    t, r = torch.randn(2, 3, 8), torch.randn(2, 5, 8)
    tm = torch.tensor([[True, True, True], [True, True, False]])
    rm = torch.tensor([[True] * 5, [True, True, True, False, False]])
    got = unit(t, tm, r, rm).detach().double().numpy()
    want = reference(unit, t.double().numpy(), tm.numpy(), r.double().numpy(), rm.numpy())
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5)
    assert np.abs(got).max() > 0.1  # not a trivially zero output


def test_padded_reference_positions_do_not_change_the_output() -> None:
    torch.manual_seed(1)
    unit = AttentionUnit(dim=8, heads=4, dropout=0.0).eval()
    t, r = torch.randn(1, 3, 8), torch.randn(1, 4, 8)
    tm = torch.ones(1, 3, dtype=torch.bool)
    rm = torch.tensor([[True, True, False, False]])
    r2 = r.clone()
    r2[:, 2:] = 1e3 * torch.randn(1, 2, 8)
    torch.testing.assert_close(unit(t, tm, r, rm), unit(t, tm, r2, rm))
    torch.testing.assert_close(unit(t, tm, r, rm), unit(t, tm, r[:, :2], rm[:, :2]))


def test_reference_without_any_valid_position_gives_finite_output() -> None:
    unit = AttentionUnit(dim=4, heads=2, dropout=0.0).eval()
    out = unit(
        torch.randn(1, 2, 4),
        torch.ones(1, 2, dtype=torch.bool),
        torch.randn(1, 3, 4),
        torch.zeros(1, 3, dtype=torch.bool),
    )
    assert torch.isfinite(out).all()


def test_hidden_not_divisible_by_heads_is_an_error_naming_both() -> None:
    with pytest.raises(ValueError, match="130.*heads=8"):
        AttentionUnit(dim=130, heads=8)


def test_short_reference_padding_path_equals_the_plain_path_with_gradients() -> None:
    """A reference shorter than 16 is padded with masked keys on CPU; the same reference given
    at length 20 (extra positions masked) takes the plain SDPA path: outputs and gradients agree."""
    torch.manual_seed(2)
    unit = AttentionUnit(dim=16, heads=4, dropout=0.0).train()
    t = torch.randn(3, 7, 16)
    tm = torch.ones(3, 7, dtype=torch.bool)
    r = torch.randn(3, 10, 16)
    rm = torch.tensor([[True] * 10, [True] * 6 + [False] * 4, [False] * 10])
    long_r = torch.cat([r, torch.randn(3, 10, 16)], dim=1)
    long_rm = torch.cat([rm, torch.zeros(3, 10, dtype=torch.bool)], dim=1)
    short_out = unit(t, tm, r, rm)
    grads_short = torch.autograd.grad(short_out.square().sum(), list(unit.parameters()))
    long_out = unit(t, tm, long_r, long_rm)
    grads_long = torch.autograd.grad(long_out.square().sum(), list(unit.parameters()))
    torch.testing.assert_close(short_out, long_out)
    for a, b in zip(grads_short, grads_long, strict=True):
        torch.testing.assert_close(a, b)
    assert short_out[:2].abs().max() > 0.1
