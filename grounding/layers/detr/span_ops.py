"""1-D span geometry of the DETR family, in torch and differentiable: (centre, width) <-> (start,
end), IoU and generalised IoU, pairwise (every prediction against every target, for matching)
or element-wise (matched pairs, for the loss).

Spans are in normalised time, [0, 1] of the video. The union is ``len(a) + len(b) - inter``
(DETR's form; equal to the hull when the spans overlap). Degenerate cases are defined, never
NaN: a zero union (two zero-width spans at one point) gives IoU 0, and a zero hull gives gIoU =
IoU. The evaluation's IoU (``grounding.metrics.temporal``, numpy, no gradient) is the scoring
function; these are for losses and matching, and a test checks both agree on random spans.
"""

from __future__ import annotations

import torch
from torch import Tensor


def cw_to_se(spans: Tensor) -> Tensor:
    """(..., 2) (centre, width) -> (..., 2) (start, end)."""
    c, w = spans.unbind(-1)
    return torch.stack([c - 0.5 * w, c + 0.5 * w], dim=-1)


def se_to_cw(spans: Tensor) -> Tensor:
    """(..., 2) (start, end) -> (..., 2) (centre, width)."""
    s, e = spans.unbind(-1)
    return torch.stack([0.5 * (s + e), e - s], dim=-1)


def _safe_div(num: Tensor, den: Tensor) -> Tensor:
    """num / den, 0 where den is 0 (with a finite gradient)."""
    zero = den == 0
    return torch.where(zero, torch.zeros_like(num), num / torch.where(zero, torch.ones_like(den), den))


def _iou_parts(a: Tensor, b: Tensor) -> tuple[Tensor, Tensor, Tensor]:
    """IoU, union and hull of (start, end) spans a (..., 2) and b (..., 2), broadcast."""
    inter = (torch.minimum(a[..., 1], b[..., 1]) - torch.maximum(a[..., 0], b[..., 0])).clamp(min=0)
    union = (a[..., 1] - a[..., 0]) + (b[..., 1] - b[..., 0]) - inter
    hull = torch.maximum(a[..., 1], b[..., 1]) - torch.minimum(a[..., 0], b[..., 0])
    return _safe_div(inter, union), union, hull


def span_iou(a: Tensor, b: Tensor) -> Tensor:
    """Element-wise IoU of (start, end) spans a (..., 2) and b (..., 2) (broadcast)."""
    return _iou_parts(a, b)[0]


def generalized_span_iou(a: Tensor, b: Tensor) -> Tensor:
    """Element-wise gIoU = IoU - (hull - union) / hull, in [-1, 1]."""
    iou, union, hull = _iou_parts(a, b)
    return iou - _safe_div(hull - union, hull)


def pairwise_iou(a: Tensor, b: Tensor) -> Tensor:
    """(N, 2) x (M, 2) (start, end) -> (N, M) IoU."""
    return span_iou(a[:, None, :], b[None, :, :])


def pairwise_generalized_iou(a: Tensor, b: Tensor) -> Tensor:
    """(N, 2) x (M, 2) (start, end) -> (N, M) gIoU."""
    return generalized_span_iou(a[:, None, :], b[None, :, :])


def inverse_sigmoid(x: Tensor, eps: float = 1e-3) -> Tensor:
    """logit(x) with x clamped into [eps, 1 - eps] (DAB-DETR's anchor refinement)."""
    x = x.clamp(0.0, 1.0)
    return torch.log(x.clamp(min=eps) / (1.0 - x).clamp(min=eps))
