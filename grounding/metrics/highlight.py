"""QVHighlights highlight detection: HL mAP and HIT@1 at saliency thresholds (official definitions).

Ground truth: every 2-second clip of the video gets the scores (0..4) of each annotator (three in
QVHighlights); clips outside ``relevant_clip_ids`` score 0. A clip is positive for an annotator
when its score is at least the threshold (Fair 2, Good 3, VeryGood 4).

- HIT@1: the clip with the highest predicted saliency (the first one on ties, as ``argmax``) is a
  hit when any annotator marked it positive; a predicted index past the end of the video misses.
- HL mAP: ranking AP (``ap.ranking_ap``) of the predicted saliency against each annotator's
  labels, averaged over annotators and queries. Predicted scores are cut to the number of clips,
  or padded with zeros up to it.

A query without predicted saliency scores 0 for both.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from numpy.typing import NDArray

from grounding.metrics.ap import ranking_ap
from grounding.metrics.temporal import percent

CLIP_SECONDS = 2.0
SALIENCY_LEVELS: dict[str, int] = {"Fair": 2, "Good": 3, "VeryGood": 4}


def clip_scores(
    duration: float, clip_ids: Sequence[int], scores: Sequence[Sequence[float]], clip_seconds: float = CLIP_SECONDS
) -> NDArray[np.float64]:
    """Per-clip annotator scores for the whole video: ``(int(duration / clip_seconds), annotators)``."""
    table = np.asarray(scores, dtype=np.float64)
    n_annotators = table.shape[1] if table.ndim == 2 else 3
    full = np.zeros((int(duration / clip_seconds), n_annotators))
    ids = np.asarray(clip_ids, dtype=np.int64)
    if ids.size and (ids.min() < 0 or ids.max() >= len(full)):
        msg = f"relevant_clip_ids must lie in [0, {len(full)}) for duration {duration}, got {ids.min()}..{ids.max()}"
        raise ValueError(msg)
    full[ids] = table.reshape(len(ids), n_annotators)
    return full


def _fit_length(pred: NDArray[np.float64], n: int) -> NDArray[np.float64]:
    if len(pred) >= n:
        return pred[:n]
    out = np.zeros(n)
    out[: len(pred)] = pred
    return out


def highlight_metrics(
    pred_saliency: Sequence[Sequence[float] | None],
    gt_clip_scores: Sequence[NDArray[np.float64]],
    levels: dict[str, int] = SALIENCY_LEVELS,
) -> dict[str, dict[str, float]]:
    """``{"HL-min-Fair": {"HL-mAP": .., "HL-Hit1": ..}, ...}`` in percent, rounded to 0.01."""
    preds = [None if p is None or len(p) == 0 else np.asarray(p, dtype=np.float64) for p in pred_saliency]
    names = list(levels)
    thresholds = np.array([levels[name] for name in names], dtype=np.float64)
    hits = np.zeros((len(names), len(preds)))
    aps: list[NDArray[np.float64]] = []  # per query: (levels, annotators)
    for i, (pred, gt) in enumerate(zip(preds, gt_clip_scores, strict=True)):
        positive = (gt[None, :, :] >= thresholds[:, None, None]).astype(np.float64)  # (levels, clips, annotators)
        if pred is None:
            aps.append(np.zeros((len(names), gt.shape[1])))
            continue
        top = int(np.argmax(pred))
        if top < gt.shape[0]:
            hits[:, i] = positive[:, top].max(axis=1)
        columns = positive.transpose(1, 0, 2).reshape(gt.shape[0], -1)  # all levels share the ranking
        aps.append(ranking_ap(columns, _fit_length(pred, gt.shape[0])).reshape(len(names), -1))
    out: dict[str, dict[str, float]] = {}
    for j, name in enumerate(names):
        mean_ap = float(np.mean(np.concatenate([a[j] for a in aps]))) if aps else 0.0
        hit1 = float(np.mean(hits[j])) if len(preds) else 0.0
        out[f"HL-min-{name}"] = {"HL-mAP": percent(mean_ap), "HL-Hit1": percent(hit1)}
    return out
