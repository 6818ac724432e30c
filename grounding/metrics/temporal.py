"""Temporal grounding metrics: IoU, R@k at IoU thresholds and mIoU (Charades-STA, ActivityNet,
TACoS, ...).

Predictions per query are arrays of ``[start, end]`` or ``[start, end, score]`` rows; they are
ranked by score (descending, stable) when a score column is present, so "R5" means the five
best-scored windows. A query with no predicted window scores IoU 0 (a miss). When a query has
several ground-truth windows, a prediction's IoU is its best IoU over them.

Percentages are rounded to 0.01, as the official QVHighlights evaluation prints them.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from numpy.typing import ArrayLike, NDArray

DEFAULT_THRESHOLDS: tuple[float, ...] = (0.3, 0.5, 0.7)
DEFAULT_KS: tuple[int, ...] = (1, 5)


def iou(a: ArrayLike, b: ArrayLike) -> NDArray[np.float64]:
    """Element-wise IoU of windows ``a[..., :2]`` and ``b[..., :2]`` (broadcast).

    The union is the hull ``max(ends) - min(starts)``, which equals the true union whenever the
    windows overlap and leaves IoU 0 otherwise (the form of the official QVHighlights R1 and of
    2D-TAN). A zero-length hull gives 0."""
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    inter = np.maximum(0.0, np.minimum(a[..., 1], b[..., 1]) - np.maximum(a[..., 0], b[..., 0]))
    hull = np.maximum(a[..., 1], b[..., 1]) - np.minimum(a[..., 0], b[..., 0])
    return np.divide(inter, hull, out=np.zeros_like(inter), where=hull != 0)


def iou_matrix(a: ArrayLike, b: ArrayLike) -> NDArray[np.float64]:
    """IoU of every window of ``a`` (N, >=2) with every window of ``b`` (M, >=2): (N, M).

    Union as ``len(a) + len(b) - intersection`` (the form of the official mAP matching)."""
    a = np.atleast_2d(np.asarray(a, dtype=np.float64))
    b = np.atleast_2d(np.asarray(b, dtype=np.float64))
    left = np.maximum(a[:, None, 0], b[None, :, 0])
    right = np.minimum(a[:, None, 1], b[None, :, 1])
    inter = np.clip(right - left, 0.0, None)
    union = (a[:, 1] - a[:, 0])[:, None] + (b[:, 1] - b[:, 0])[None, :] - inter
    return np.divide(inter, union, out=np.zeros_like(inter), where=union != 0)


def rank_windows(windows: ArrayLike) -> NDArray[np.float64]:
    """``(n, 2|3)`` windows as float, best score first when a score column is present."""
    arr = np.asarray(windows, dtype=np.float64)
    if arr.size == 0:
        return np.zeros((0, 2))
    if arr.ndim != 2 or arr.shape[1] not in (2, 3):
        msg = f"windows must have shape (n, 2) or (n, 3), got {arr.shape}"
        raise ValueError(msg)
    if arr.shape[1] == 3:
        arr = arr[np.argsort(-arr[:, 2], kind="stable")]
    return arr[:, :2]


def same_window_share(preds: Sequence[ArrayLike], videos: Sequence[object] | None = None, decimals: int = 1) -> float:
    """How often a query's top-1 window repeats another query's in the same video, in percent:
    over the videos with two or more predicted queries, sum(queries - distinct top-1 windows) /
    sum(queries - 1), windows rounded to ``decimals`` seconds. 100 when every query of a video gets
    the same window (a constant predictor, in seconds or as a fraction of the video), 0 when no two
    queries of a video share one. Such a model can still score above a constant baseline where
    moments cluster in time: it learned where moments lie, not what the query says (a val-chosen
    checkpoint trained on few queries often does). ``videos``: each query's video (None: one video
    for all). Queries with no predicted window are left out; no video with two gives 0."""
    groups: dict[object, list[tuple[float, ...]]] = {}
    for i, w in enumerate(preds):
        if np.asarray(w).size:
            key = videos[i] if videos is not None else None
            groups.setdefault(key, []).append(tuple(np.round(rank_windows(w)[0], decimals)))
    pairs = [(len(tops) - len(set(tops)), len(tops) - 1) for tops in groups.values() if len(tops) > 1]
    possible = sum(p for _, p in pairs)
    return percent(sum(r for r, _ in pairs) / possible) if possible else 0.0


def topk_ious(preds: Sequence[ArrayLike], gts: Sequence[ArrayLike], k: int) -> NDArray[np.float64]:
    """(Q, k) best-over-GT IoU of each query's top-k predictions; 0 where fewer than k exist."""
    if len(preds) != len(gts):
        msg = f"{len(preds)} prediction lists for {len(gts)} ground-truth lists"
        raise ValueError(msg)
    n = len(preds)
    ranked = [rank_windows(p)[:k] for p in preds]
    gt_arrs = [np.asarray(g, dtype=np.float64).reshape(-1, 2) for g in gts]
    max_gt = max((len(g) for g in gt_arrs), default=1) or 1
    pred_pad = np.full((n, k, 2), np.nan)
    gt_pad = np.full((n, max_gt, 2), np.nan)
    for i, (p, g) in enumerate(zip(ranked, gt_arrs, strict=True)):
        pred_pad[i, : len(p)] = p
        gt_pad[i, : len(g)] = g
    with np.errstate(invalid="ignore"):
        ious = iou(pred_pad[:, :, None, :], gt_pad[:, None, :, :])  # (Q, k, G)
    ious = np.nan_to_num(ious, nan=0.0)
    return ious.max(axis=2) if n else np.zeros((0, k))


def percent(x: float) -> float:
    """``x`` as a percentage rounded to 0.01, the way the official QVHighlights script rounds."""
    return float(f"{100.0 * float(x):.2f}")


def recall_at_iou(
    preds: Sequence[ArrayLike],
    gts: Sequence[ArrayLike],
    thresholds: Sequence[float] = DEFAULT_THRESHOLDS,
    k: Sequence[int] = DEFAULT_KS,
) -> dict[str, float]:
    """``{"R1@0.3": ..., "R5@0.7": ...}`` in percent: the share of queries with at least one of
    the top-k predictions at IoU >= threshold with a ground-truth window."""
    if not preds:
        return {f"R{kk}@{t}": 0.0 for kk in k for t in thresholds}
    best = topk_ious(preds, gts, max(k))
    out: dict[str, float] = {}
    for kk in k:
        hit_iou = best[:, :kk].max(axis=1)
        for t in thresholds:
            out[f"R{kk}@{t}"] = percent(np.mean(hit_iou >= t))
    return out


def miou(preds: Sequence[ArrayLike], gts: Sequence[ArrayLike]) -> float:
    """Mean IoU of each query's top-1 prediction, in percent."""
    if not preds:
        return 0.0
    return percent(np.mean(topk_ious(preds, gts, 1)[:, 0]))


def temporal_metrics(
    preds: Sequence[ArrayLike],
    gts: Sequence[ArrayLike],
    thresholds: Sequence[float] = DEFAULT_THRESHOLDS,
    k: Sequence[int] = DEFAULT_KS,
) -> dict[str, float | int]:
    """R@k at every threshold, mIoU and the number of queries ``n``, in one dict."""
    out: dict[str, float | int] = dict(recall_at_iou(preds, gts, thresholds, k))
    out["mIoU"] = miou(preds, gts)
    out["n"] = len(preds)
    return out
