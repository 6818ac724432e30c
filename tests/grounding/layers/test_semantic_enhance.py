"""Semantic-guided enhancement against its formula, h <- LN(h + sigma(W_g [h ; W_p u]) W_p u)."""

from __future__ import annotations

import numpy as np
import torch

from grounding.layers.semantic_enhance import SemanticEnhance
from tests.grounding.layers.fixed_weights import fixed_init, layer_norm, linear, np_params


def test_gated_residual_matches_the_formula_and_zeroes_padding() -> None:
    torch.manual_seed(0)
    layer = SemanticEnhance(dim=6, semantic_dim=4, dropout=0.3).eval()
    fixed_init(layer)
    h, u = torch.randn(2, 5, 6), torch.randn(2, 5, 4)
    mask = torch.tensor([[True] * 5, [True, True, True, False, False]])
    got = layer(h, mask, u).detach().double().numpy()
    p, hn, un = np_params(layer), h.double().numpy(), u.double().numpy()
    proj = linear(un, p, "proj")
    gate = 1 / (1 + np.exp(-linear(np.concatenate([hn, proj], -1), p, "gate")))
    want = layer_norm(hn + gate * proj, p["norm.weight"], p["norm.bias"]) * mask.numpy()[..., None]
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5)
    assert np.abs(got).max() > 0.1
