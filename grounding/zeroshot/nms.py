"""1-D non-maximum suppression (GranAlign's Step F; VTG-GPT suppresses at IoU >= 0.95): take the
best window, drop every remaining window whose IoU with it reaches ``iou_threshold``, repeat. IoU
is the project's one 1-D IoU (``grounding.metrics.temporal.iou``)."""

from __future__ import annotations

import numpy as np

from grounding.metrics.temporal import iou


def nms(windows: np.ndarray, scores: np.ndarray, iou_threshold: float, max_keep: int | None = None) -> np.ndarray:
    """Indices of the kept windows (P, 2), best score first (ties: the earlier window first)."""
    windows = np.asarray(windows, dtype=np.float64).reshape(-1, 2)
    order = np.argsort(-np.asarray(scores, dtype=np.float64), kind="stable")
    keep: list[int] = []
    while order.size and (max_keep is None or len(keep) < max_keep):
        best, order = int(order[0]), order[1:]
        keep.append(best)
        if order.size:
            order = order[iou(windows[best], windows[order]) < iou_threshold]
    return np.asarray(keep, dtype=np.int64)
