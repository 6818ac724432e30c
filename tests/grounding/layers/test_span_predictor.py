from __future__ import annotations

import numpy as np
import torch

from grounding.layers import MASKED_LOGIT, SpanPredictor
from tests.grounding.layers.fixed_weights import fixed_init, linear, np_params, sigmoid, softmax
from tests.grounding.layers.test_cq_attention import reference_cqa


def lstm(p: dict[str, np.ndarray], name: str, x: np.ndarray) -> np.ndarray:
    """Unidirectional one-layer LSTM, gates in PyTorch's order (input, forget, cell, output)."""
    d = p[f"{name}.weight_hh_l0"].shape[1]
    h, c = np.zeros(d), np.zeros(d)
    states = []
    for x_t in x:
        z = (
            p[f"{name}.weight_ih_l0"] @ x_t
            + p[f"{name}.bias_ih_l0"]
            + p[f"{name}.weight_hh_l0"] @ h
            + p[f"{name}.bias_hh_l0"]
        )
        i, f, g, o = sigmoid(z[:d]), sigmoid(z[d : 2 * d]), np.tanh(z[2 * d : 3 * d]), sigmoid(z[3 * d :])
        c = f * c + i * g
        h = o * np.tanh(c)
        states.append(h)
    return np.stack(states)


def head(p: dict[str, np.ndarray], name: str, x: np.ndarray) -> np.ndarray:
    hidden = np.maximum(linear(x, p, f"{name}.net.0"), 0.0)
    return linear(hidden, p, f"{name}.net.3")[:, 0]


def reference(
    p: dict[str, np.ndarray], v: np.ndarray, vm: np.ndarray, q: np.ndarray, qm: np.ndarray
) -> dict[str, np.ndarray]:
    """Eq. (10-11) for one sample in float64."""
    x = reference_cqa(p, v, vm, q, qm, prefix="cq_attention.")
    alpha = softmax(q @ p["pool.weight"], qm, axis=0)
    sentence = alpha @ q
    feats = np.concatenate([x, np.repeat(sentence[None], len(x), axis=0)], axis=1) * vm[:, None]
    highlight = feats @ p["highlight.conv.weight"][0, :, 0] + p["highlight.conv.bias"][0]
    x = x * sigmoid(highlight)[:, None] * vm[:, None]
    s_states = lstm(p, "start_lstm", x)
    e_states = lstm(p, "end_lstm", s_states)
    start = head(p, "start_head", np.concatenate([s_states, x], axis=1))
    end = head(p, "end_head", np.concatenate([e_states, x], axis=1))
    fill = lambda a: np.where(vm, a, MASKED_LOGIT)  # noqa: E731
    return {"start_logits": fill(start), "end_logits": fill(end), "highlight_logits": fill(highlight)}


def test_span_predictor_matches_reference_with_fixed_weights() -> None:
    torch.manual_seed(0)
    pred = SpanPredictor.build(dim=6, dropout=0.2).eval()
    fixed_init(pred)
    v, q = torch.randn(2, 7, 6), torch.randn(2, 3, 6)
    vm = torch.tensor([[True] * 7, [True] * 4 + [False] * 3])
    qm = torch.tensor([[True] * 3, [True, True, False]])
    v = v * vm[..., None]
    got = {k: t.detach().double().numpy() for k, t in pred(v, vm, q, qm).items()}
    p = np_params(pred)
    for b in range(2):
        want = reference(p, v[b].double().numpy(), vm[b].numpy(), q[b].double().numpy(), qm[b].numpy())
        for key in ("start_logits", "end_logits", "highlight_logits"):
            np.testing.assert_allclose(got[key][b], want[key], rtol=1e-5, atol=1e-5, err_msg=key)
    assert np.ptp(got["start_logits"][0]) > 1e-3  # the logits really vary along time


def test_without_highlight_the_gate_is_off_and_logits_are_neutral() -> None:
    torch.manual_seed(0)
    pred = SpanPredictor.build(dim=4, dropout=0.0, use_highlight=False).eval()
    assert pred.highlight is None
    vm = torch.tensor([[True, True, False]])
    out = pred(torch.randn(1, 3, 4), vm, torch.randn(1, 2, 4), torch.ones(1, 2, dtype=torch.bool))
    assert out["highlight_logits"].tolist() == [[0.0, 0.0, MASKED_LOGIT]]
    assert out["start_logits"][0, 2] == MASKED_LOGIT
