from __future__ import annotations

import numpy as np
import torch

from grounding.layers import ContextQueryAttention
from tests.grounding.layers.fixed_weights import fixed_init, linear, np_params, softmax


def reference_cqa(
    p: dict[str, np.ndarray], v: np.ndarray, vm: np.ndarray, q: np.ndarray, qm: np.ndarray, prefix: str = ""
) -> np.ndarray:
    """Eq. (11) for one sample in float64."""
    d = v.shape[-1]
    r = linear(v, p, f"{prefix}fc_video") @ linear(q, p, f"{prefix}fc_query").T / np.sqrt(d)
    r_row = softmax(r, qm[None, :], axis=1)
    r_col = softmax(r, vm[:, None], axis=0)
    v2q = r_row @ q
    q2v = r_row @ r_col.T @ v
    out = linear(np.concatenate([v, v2q, v * v2q, v * q2v], axis=1), p, f"{prefix}fc_out")
    return out * vm[:, None]


def test_cq_attention_matches_reference_with_fixed_weights() -> None:
    torch.manual_seed(0)
    cqa = ContextQueryAttention(dim=6, dropout=0.3).eval()
    fixed_init(cqa)
    v, q = torch.randn(2, 5, 6), torch.randn(2, 4, 6)
    vm = torch.tensor([[True] * 5, [True, True, True, False, False]])
    qm = torch.tensor([[True] * 4, [True, True, False, False]])
    got = cqa(v * vm[..., None], vm, q, qm).detach().double().numpy()
    p = np_params(cqa)
    for b in range(2):
        want = reference_cqa(
            p, (v * vm[..., None])[b].double().numpy(), vm[b].numpy(), q[b].double().numpy(), qm[b].numpy()
        )
        np.testing.assert_allclose(got[b], want, rtol=1e-5, atol=1e-5)


def test_padded_snippets_and_words_do_not_change_valid_outputs() -> None:
    torch.manual_seed(2)
    cqa = ContextQueryAttention(dim=4).eval()
    v, q = torch.randn(1, 3, 4), torch.randn(1, 2, 4)
    ones = lambda n: torch.ones(1, n, dtype=torch.bool)  # noqa: E731
    vp = torch.cat([v, 50 * torch.randn(1, 2, 4)], dim=1)
    qp = torch.cat([q, 50 * torch.randn(1, 3, 4)], dim=1)
    vmp = torch.tensor([[True, True, True, False, False]])
    qmp = torch.tensor([[True, True, False, False, False]])
    torch.testing.assert_close(cqa(vp, vmp, qp, qmp)[:, :3], cqa(v, ones(3), q, ones(2)))
