"""Average precision, in the two forms the official QVHighlights evaluation uses.

- ``detection_ap``: moment retrieval. Predictions are matched greedily, best score first, each to
  the unmatched ground-truth window of highest IoU at or above the threshold (ties: the later GT
  window first, as the official matching does); precision is interpolated VOC-style (the maximum
  precision at any higher recall) and summed over the recall steps, with recall divided by the
  number of GT windows.
- ``ranking_ap``: highlight detection. Clips are ranked by predicted saliency; AP is the mean of
  the interpolated precision at each rank where recall increases (scikit-learn's precision-recall
  curve semantics: tied scores form one threshold). A column with a single label value scores
  1 when all clips are positive and 0 when none are.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from numpy.typing import NDArray

from grounding.metrics.temporal import iou_matrix


def voc_interpolated_ap(precision: NDArray[np.float64], recall: NDArray[np.float64]) -> NDArray[np.float64]:
    """Area under the interpolated precision-recall curve, recall padded with 0 and 1.

    Rows of ``(T, n)`` inputs are independent curves; the steps are summed in order (``cumsum``)
    so each row adds the same terms in the same order as a plain loop over recall steps."""
    precision = np.atleast_2d(precision)
    recall = np.atleast_2d(recall)
    pad0 = np.zeros((len(precision), 1))
    mprec = np.concatenate([pad0, precision, pad0], axis=1)
    mrec = np.concatenate([pad0, recall, pad0 + 1.0], axis=1)
    mprec = np.maximum.accumulate(mprec[:, ::-1], axis=1)[:, ::-1]
    areas = (mrec[:, 1:] - mrec[:, :-1]) * mprec[:, 1:]  # 0 where recall does not move
    return np.cumsum(areas, axis=1)[:, -1]


def detection_ap(
    pred: NDArray[np.float64], gt: NDArray[np.float64], thresholds: Sequence[float]
) -> NDArray[np.float64]:
    """AP of one query's predictions ``(n, 3)`` [start, end, score] against its GT windows
    ``(g, 2)``, one value per IoU threshold. No prediction gives AP 0."""
    n_thr = len(thresholds)
    if len(pred) == 0 or len(gt) == 0:
        return np.zeros(n_thr)
    pred = pred[np.argsort(-pred[:, 2], kind="stable")]
    ious = iou_matrix(pred[:, :2], gt)  # (n, g)
    thr = np.asarray(thresholds, dtype=np.float64)[:, None]
    gt_index = np.arange(len(gt))
    tp = np.zeros((n_thr, len(pred)))
    locked = np.zeros((n_thr, len(gt)), dtype=bool)
    if len(gt) == 1:  # fast path, same result: the first prediction above the threshold matches
        above = ious[:, 0][None, :] >= thr
        rows = np.nonzero(above.any(axis=1))[0]
        tp[rows, above[rows].argmax(axis=1)] = 1.0
    for i, row in enumerate(ious if len(gt) > 1 else []):
        order = np.lexsort((-gt_index, -row))  # IoU descending, then GT index descending
        free = (row[order][None, :] >= thr) & ~locked[:, order]
        matched = free.any(axis=1)
        rows = np.nonzero(matched)[0]
        locked[rows, order[free[rows].argmax(axis=1)]] = True
        tp[matched, i] = 1.0
    tp_cum = np.cumsum(tp, axis=1)
    fp_cum = np.cumsum(1.0 - tp, axis=1)
    recall = tp_cum / float(len(gt))
    precision = tp_cum / (tp_cum + fp_cum)
    return voc_interpolated_ap(precision, recall)


def ranking_ap(labels: NDArray[np.float64], scores: NDArray[np.float64]) -> NDArray[np.float64]:
    """AP of ranking ``scores`` (n,) against each binary label column of ``labels`` (n, m): (m,).

    The sort and the thresholds depend on the scores alone, so they are shared by all columns."""
    labels = np.asarray(labels, dtype=np.float64)
    if labels.ndim == 1:
        labels = labels[:, None]
    n, m = labels.shape
    out = np.zeros(m)
    if n == 0:
        return out
    order = np.argsort(scores, kind="mergesort")[::-1]
    sorted_scores = scores[order]
    cut = np.concatenate([np.nonzero(np.diff(sorted_scores))[0], [n - 1]])
    tps = np.cumsum(labels[order], axis=0)[cut].T  # (m, n_thresholds): positives above each cut
    fps = 1.0 + cut - tps
    with np.errstate(divide="ignore", invalid="ignore"):  # all-negative columns are set below
        recall = tps / tps[:, -1:]
    precision = np.concatenate([(tps / (tps + fps))[:, ::-1], np.ones((m, 1))], axis=1)
    recall = np.concatenate([recall[:, ::-1], np.zeros((m, 1))], axis=1).astype(np.float32)
    precision = np.maximum.accumulate(precision, axis=1)
    steps = np.diff(recall, axis=1) != 0
    constant = labels.min(axis=0) == labels.max(axis=0)
    for j in range(m):
        if constant[j]:
            out[j] = 1.0 if labels[0, j] != 0 else 0.0
        else:
            out[j] = float(np.mean(precision[j, :-1][steps[j]]))
    return out
