from __future__ import annotations

import numpy as np
import pytest
import torch

from grounding.layers.detr import (
    cw_to_se,
    generalized_span_iou,
    inverse_sigmoid,
    pairwise_generalized_iou,
    pairwise_iou,
    se_to_cw,
    span_iou,
)
from grounding.metrics.temporal import iou_matrix

T = torch.tensor

# (a, b, IoU, gIoU) in (start, end)
HAND = [
    ((0.0, 0.2), (0.5, 0.7), 0.0, 0.0 - (0.7 - 0.4) / 0.7),  # disjoint: hull 0.7, union 0.4
    ((0.1, 0.9), (0.3, 0.5), 0.25, 0.25),  # nested: hull == union
    ((0.0, 0.5), (0.5, 1.0), 0.0, 0.0),  # touching: hull == union == 1
    ((0.2, 0.6), (0.4, 0.8), 0.2 / 0.6, 0.2 / 0.6),  # overlapping
    ((0.3, 0.3), (0.1, 0.5), 0.0, 0.0),  # zero width inside: union 0.4, hull 0.4
    ((0.3, 0.3), (0.3, 0.3), 0.0, 0.0),  # two zero-width spans at one point: union and hull 0
    ((0.2, 0.2), (0.6, 0.6), 0.0, -1.0),  # zero-width, apart: union 0, hull 0.4
]


@pytest.mark.parametrize(("a", "b", "want_iou", "want_giou"), HAND)
def test_hand_cases(a: tuple, b: tuple, want_iou: float, want_giou: float) -> None:
    ta, tb = T(a, dtype=torch.float64), T(b, dtype=torch.float64)
    assert span_iou(ta, tb).item() == pytest.approx(want_iou)
    assert generalized_span_iou(ta, tb).item() == pytest.approx(want_giou)
    assert span_iou(tb, ta).item() == pytest.approx(want_iou)  # symmetric


def test_pairwise_matches_the_elementwise_form_and_the_metric_iou() -> None:
    g = torch.Generator().manual_seed(0)
    a = torch.rand(7, 2, generator=g, dtype=torch.float64).sort(dim=1).values
    b = torch.rand(5, 2, generator=g, dtype=torch.float64).sort(dim=1).values
    pw = pairwise_iou(a, b)
    assert pw.shape == (7, 5)
    np.testing.assert_allclose(pw.numpy(), iou_matrix(a.numpy(), b.numpy()), atol=1e-12)
    for i in range(7):
        for j in range(5):
            assert pairwise_generalized_iou(a, b)[i, j] == generalized_span_iou(a[i], b[j])
    assert (pairwise_generalized_iou(a, b) <= pw + 1e-12).all()
    assert (pairwise_generalized_iou(a, b) >= -1).all()


def test_centre_width_round_trip_and_inverse_sigmoid() -> None:
    se = T([[0.1, 0.4], [0.0, 1.0], [0.5, 0.5]])
    cw = se_to_cw(se)
    torch.testing.assert_close(cw, T([[0.25, 0.3], [0.5, 1.0], [0.5, 0.0]]))
    torch.testing.assert_close(cw_to_se(cw), se)
    x = T([0.2, 0.5, 0.9])
    torch.testing.assert_close(inverse_sigmoid(x).sigmoid(), x)
    assert torch.isfinite(inverse_sigmoid(T([0.0, 1.0]))).all()


def test_gradients_are_finite_in_degenerate_cases() -> None:
    a = T([[0.3, 0.3], [0.2, 0.2], [0.0, 0.5]], requires_grad=True)
    b = T([[0.3, 0.3], [0.6, 0.6], [0.5, 1.0]])
    generalized_span_iou(a, b).sum().backward()
    assert torch.isfinite(a.grad).all()
