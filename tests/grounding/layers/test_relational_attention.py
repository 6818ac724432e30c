"""Second-order relational attention: the bias on a hand case, the attention unit's ``bias``
argument against a written-out reference, and a zero bias giving plain self-attention."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from grounding.layers import AttentionUnit
from grounding.layers.relational_attention import RelationalAttention, relation_bias
from tests.grounding.layers.fixed_weights import fixed_init, layer_norm, linear, np_params, softmax


def test_second_order_bias_on_a_hand_case() -> None:
    e1, e2 = torch.tensor([1.0, 0.0]), torch.tensor([0.0, 1.0])
    r = torch.stack([e1, e1, e2, e1]).unsqueeze(0)  # the 4th snippet is padding
    mask = torch.tensor([[True, True, True, False]])
    want = torch.tensor([[1.0, 1.0, 0.0, 0.0], [1.0, 1.0, 0.0, 0.0], [0.0, 0.0, 1.0, 0.0], [1.0, 1.0, 0.0, 0.0]])
    torch.testing.assert_close(relation_bias(r, mask, "second_order")[0], want)
    first = torch.tensor([[1.0, 1.0, 0.0, 0.0], [1.0, 1.0, 0.0, 0.0], [0.0, 0.0, 1.0, 0.0], [1.0, 1.0, 0.0, 0.0]])
    torch.testing.assert_close(relation_bias(r, mask, "first_order")[0], first)
    hop = relation_bias(r, mask, "two_hop", temperature=0.1)[0]
    assert (hop[:, 3] == 0).all() and hop[0, 1] > hop[0, 2]  # log(P P): related pairs higher


def _reference(unit: AttentionUnit, x: np.ndarray, m: np.ndarray, bias: np.ndarray) -> np.ndarray:
    """Eq. (6) self-attention with an additive per-head score bias, in float64."""
    p = np_params(unit)
    heads, d = unit.heads, x.shape[-1]
    dh = d // heads
    out = np.zeros_like(x)
    for b in range(x.shape[0]):
        q, k, v = linear(x[b], p, "fc_query"), linear(x[b], p, "fc_key"), linear(x[b], p, "fc_value")
        ctx = np.zeros_like(q)
        for h in range(heads):
            sl = slice(h * dh, (h + 1) * dh)
            attn = softmax(q[:, sl] @ k[:, sl].T / np.sqrt(dh) + bias[b, h], m[b][None, :], axis=1)
            ctx[:, sl] = attn @ v[:, sl]
        out[b] = layer_norm(linear(x[b] + ctx, p, "fc_out"), p["norm.weight"], p["norm.bias"]) * m[b][:, None]
    return out


@pytest.mark.parametrize("length", [5, 20])  # < 16: the CPU path pads the keys (and the bias)
def test_attention_unit_bias_matches_reference(length: int) -> None:
    torch.manual_seed(0)
    unit = AttentionUnit(dim=8, heads=2, dropout=0.0).eval()
    fixed_init(unit)
    x = torch.randn(2, length, 8)
    m = torch.ones(2, length, dtype=torch.bool)
    m[1, length - 2 :] = False
    bias = torch.randn(2, 2, length, length)
    got = unit(x, m, x, m, bias=bias).detach().double().numpy()
    want = _reference(unit, x.double().numpy(), m.numpy(), bias.double().numpy())
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5)


def test_zero_bias_is_plain_self_attention() -> None:
    torch.manual_seed(1)
    unit = AttentionUnit(dim=16, heads=4, dropout=0.0).eval()
    head = torch.nn.Linear(16, 4)
    layer = RelationalAttention(unit, head).eval()
    h = torch.randn(2, 9, 16)
    m = torch.tensor([[True] * 9, [True] * 6 + [False] * 3])
    plain = unit(h, m, h, m)
    assert not torch.allclose(layer(h, m, h, m), plain)
    r = layer.last_relation
    torch.testing.assert_close(r.norm(dim=-1), m.float())  # unit vectors, zero at padding
    with torch.no_grad():
        layer.beta.zero_()
    torch.testing.assert_close(layer(h, m, h, m), plain)  # beta = 0
    with torch.no_grad():
        layer.beta.fill_(1.0)
        head.weight.zero_()
        head.bias.zero_()
    torch.testing.assert_close(layer(h, m), plain)  # r = 0 -> S = 0 -> S2 = 0
    with pytest.raises(ValueError, match="self-attention"):
        layer(h, m, torch.randn(2, 9, 16), m)
