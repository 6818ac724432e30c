"""Semantic-guided enhancement against its formula, h <- LN(h + sigma(W_g [h ; W_p u]) W_p u),
written out with u = W_sem h + b built explicitly (the layer folds W_p W_sem instead)."""

from __future__ import annotations

import numpy as np
import torch

from grounding.layers.semantic_enhance import SemanticEnhance
from tests.grounding.layers.fixed_weights import fixed_init, layer_norm, linear, np_params


def test_gated_residual_matches_the_formula_and_zeroes_padding() -> None:
    torch.manual_seed(0)
    layer = SemanticEnhance(dim=6, semantic_dim=4, dropout=0.3).eval()
    fixed_init(layer)
    head = torch.nn.Linear(6, 4)  # the semantic head u = W_sem h + b
    fixed_init(head, scale=0.5)
    h = torch.randn(2, 5, 6)
    u = head(h)
    mask = torch.tensor([[True] * 5, [True, True, True, False, False]])
    got = layer(h, mask, head).detach().double().numpy()
    p, hn, un = np_params(layer), h.double().numpy(), u.detach().double().numpy()
    proj = linear(un, p, "proj")
    gate = 1 / (1 + np.exp(-linear(np.concatenate([hn, proj], -1), p, "gate")))
    want = layer_norm(hn + gate * proj, p["norm.weight"], p["norm.bias"]) * mask.numpy()[..., None]
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5)
    assert np.abs(got).max() > 0.1


def test_inference_cache_of_the_folded_map_follows_the_weights() -> None:
    torch.manual_seed(1)
    layer, head = SemanticEnhance(dim=6, semantic_dim=4).eval(), torch.nn.Linear(6, 4)
    h, mask = torch.randn(1, 3, 6), torch.ones(1, 3, dtype=torch.bool)
    with torch.no_grad():
        first = layer(h, mask, head)
        assert layer._folded is not None
        torch.testing.assert_close(layer(h, mask, head), first)  # reused
        head.weight.add_(0.5)  # an optimizer step or load_state_dict changes the weights in place
        fresh = SemanticEnhance(dim=6, semantic_dim=4).eval()
        fresh.load_state_dict(layer.state_dict())
        torch.testing.assert_close(layer(h, mask, head), fresh(h, mask, head))
        assert not torch.allclose(layer(h, mask, head), first)
    out = layer(h, mask, head)  # with gradients: never the cached tensors
    out.sum().backward()
    assert head.weight.grad is not None and layer.proj.weight.grad is not None
