"""2-D box geometry in torch, differentiable, for the spatial losses: (cx, cy, w, h) <-> (x1, y1,
x2, y2) and element-wise IoU / generalised IoU of matched boxes (one prediction per GT box, no
matching: one box per frame).

Boxes are normalised to the frame ([0, 1] of width and height) or in pixels, the same for both
sides; areas are continuous, ``(x2 - x1) * (y2 - y1)`` with no +1, as every STVG evaluator computes
them. Degenerate cases are defined, never NaN: a zero union gives IoU 0, a zero enclosing box gives
gIoU = IoU. The evaluation's IoU (``grounding.metrics.stvg.box_iou``, numpy, no gradient) is the
scoring function; a test checks both agree on random boxes.
"""

from __future__ import annotations

import torch
from torch import Tensor


def box_cxcywh_to_xyxy(boxes: Tensor) -> Tensor:
    cx, cy, w, h = boxes.unbind(-1)
    return torch.stack([cx - 0.5 * w, cy - 0.5 * h, cx + 0.5 * w, cy + 0.5 * h], dim=-1)


def box_xyxy_to_cxcywh(boxes: Tensor) -> Tensor:
    x1, y1, x2, y2 = boxes.unbind(-1)
    return torch.stack([0.5 * (x1 + x2), 0.5 * (y1 + y2), x2 - x1, y2 - y1], dim=-1)


def _area(boxes: Tensor) -> Tensor:
    return (boxes[..., 2] - boxes[..., 0]).clamp(min=0) * (boxes[..., 3] - boxes[..., 1]).clamp(min=0)


def _safe_div(num: Tensor, den: Tensor) -> Tensor:
    zero = den <= 0
    return torch.where(zero, torch.zeros_like(num), num / torch.where(zero, torch.ones_like(den), den))


def _iou_union(a: Tensor, b: Tensor) -> tuple[Tensor, Tensor]:
    w = (torch.minimum(a[..., 2], b[..., 2]) - torch.maximum(a[..., 0], b[..., 0])).clamp(min=0)
    h = (torch.minimum(a[..., 3], b[..., 3]) - torch.maximum(a[..., 1], b[..., 1])).clamp(min=0)
    inter = w * h
    union = _area(a) + _area(b) - inter
    return _safe_div(inter, union), union


def box_iou(a: Tensor, b: Tensor) -> Tensor:
    """Element-wise IoU of xyxy boxes a (..., 4) and b (..., 4), broadcast."""
    return _iou_union(a, b)[0]


def generalized_box_iou(a: Tensor, b: Tensor) -> Tensor:
    """Element-wise gIoU = IoU - (hull - union) / hull of xyxy boxes (Rezatofighi et al., 2019)."""
    iou, union = _iou_union(a, b)
    hull_w = torch.maximum(a[..., 2], b[..., 2]) - torch.minimum(a[..., 0], b[..., 0])
    hull_h = torch.maximum(a[..., 3], b[..., 3]) - torch.minimum(a[..., 1], b[..., 1])
    hull = hull_w.clamp(min=0) * hull_h.clamp(min=0)
    return torch.where(hull > 0, iou - _safe_div(hull - union, hull), iou)
