"""Spatio-temporal video grounding (STVG, e.g. VidSTG / HC-STVG) metrics on per-frame boxes.

A tube maps frame index -> box ``[x1, y1, x2, y2]`` (continuous coordinates: area is
``(x2 - x1) * (y2 - y1)``, no +1). With S_p, S_g the predicted and GT frame sets,
S_i = S_p & S_g and S_u = S_p | S_g:

- tIoU = |S_i| / |S_u|
- vIoU = (1 / |S_u|) * sum over t in S_i of IoU(box_p(t), box_g(t))

``m_tIoU`` and ``m_vIoU`` average them over queries; ``vIoU@R`` is the share of queries with
vIoU >= R. Percentages rounded to 0.01. An empty union scores 0.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
from numpy.typing import ArrayLike, NDArray

from grounding.metrics.temporal import percent

Tube = Mapping[int, Sequence[float]]
DEFAULT_VIOU_THRESHOLDS: tuple[float, ...] = (0.3, 0.5)


def box_iou(a: ArrayLike, b: ArrayLike) -> NDArray[np.float64]:
    """Element-wise IoU of boxes ``a[..., 4]`` and ``b[..., 4]`` (broadcast); 0 for empty unions."""
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    w = np.clip(np.minimum(a[..., 2], b[..., 2]) - np.maximum(a[..., 0], b[..., 0]), 0.0, None)
    h = np.clip(np.minimum(a[..., 3], b[..., 3]) - np.maximum(a[..., 1], b[..., 1]), 0.0, None)
    inter = w * h

    def area(x: NDArray[np.float64]) -> NDArray[np.float64]:
        return np.clip(x[..., 2] - x[..., 0], 0.0, None) * np.clip(x[..., 3] - x[..., 1], 0.0, None)

    union = area(a) + area(b) - inter
    return np.divide(inter, union, out=np.zeros_like(inter), where=union > 0)


def tube_iou(pred: Tube, gt: Tube) -> tuple[float, float]:
    """``(tIoU, vIoU)`` of one predicted tube against one GT tube."""
    union = set(pred) | set(gt)
    if not union:
        return 0.0, 0.0
    shared = sorted(set(pred) & set(gt))
    if not shared:
        return 0.0, 0.0
    ious = box_iou([pred[t] for t in shared], [gt[t] for t in shared])
    return len(shared) / len(union), float(ious.sum()) / len(union)


def stvg_metrics(
    preds: Sequence[Tube], gts: Sequence[Tube], thresholds: Sequence[float] = DEFAULT_VIOU_THRESHOLDS
) -> dict[str, float | int]:
    """``{"m_tIoU", "m_vIoU", "vIoU@0.3", "vIoU@0.5", "n"}`` over queries (percent)."""
    if len(preds) != len(gts):
        msg = f"stvg_metrics: {len(preds)} predicted tubes for {len(gts)} ground-truth tubes"
        raise ValueError(msg)
    pairs = np.array([tube_iou(p, g) for p, g in zip(preds, gts, strict=True)]).reshape(-1, 2)
    if len(pairs) == 0:
        return {"m_tIoU": 0.0, "m_vIoU": 0.0} | {f"vIoU@{t}": 0.0 for t in thresholds} | {"n": 0}
    out: dict[str, float | int] = {
        "m_tIoU": percent(pairs[:, 0].mean()),
        "m_vIoU": percent(pairs[:, 1].mean()),
    }
    for t in thresholds:
        out[f"vIoU@{t}"] = percent(np.mean(pairs[:, 1] >= t))
    out["n"] = len(pairs)
    return out
