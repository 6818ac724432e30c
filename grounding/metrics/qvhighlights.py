"""The QVHighlights evaluation suite, numerically identical to the official evaluation
(jayleicn/moment_detr ``standalone_eval/eval.py``), with the same output keys and rounding.

Moment retrieval, per length bucket of the ground-truth windows ("short" (0, 10] s,
"middle" (10, 30], "long" (30, 150]; "full" keeps every window and query; a query enters a
bucket with only its windows in that range, and only when it has one):

- ``MR-R1``: the FIRST listed predicted window (as the official code, which does not re-sort)
  against the GT window it overlaps most; hit when IoU >= threshold. ``MR-mIoU`` is its mean IoU.
- ``MR-mAP``: ``ap.detection_ap`` over the first 10 listed predictions, at IoU 0.5:0.05:0.95,
  averaged over queries; ``average`` is the mean over thresholds.

Highlight detection: ``highlight.highlight_metrics`` at Fair/Good/VeryGood, computed when the GT
carries saliency and at least one prediction carries ``pred_saliency_scores``.

Key sets: ``"extended"`` (default) adds R1@0.3..0.45 and mIoU, as CG-DETR / lighthouse print;
``"moment_detr"`` gives exactly the original script's keys.

Policies beyond the official script (which asserts that prediction and GT qids match): a GT query
without prediction (or without windows) scores 0 for every MR metric and 0 for HL; predictions
for qids not in the GT are ignored; an empty bucket reports 0.0 for every key. Callers
(``grounding.evaluation``) count and report both cases.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Literal

import numpy as np
from numpy.typing import NDArray

from grounding.metrics.ap import detection_ap
from grounding.metrics.highlight import clip_scores, highlight_metrics
from grounding.metrics.temporal import iou, iou_matrix, percent

KeySet = Literal["extended", "moment_detr"]
MAP_THRESHOLDS: tuple[float, ...] = (0.5, 0.55, 0.6, 0.65, 0.7, 0.75, 0.8, 0.85, 0.9, 0.95)
R1_THRESHOLDS: dict[str, tuple[float, ...]] = {
    "extended": (0.3, 0.35, 0.4, 0.45, *MAP_THRESHOLDS),
    "moment_detr": MAP_THRESHOLDS,
}
LENGTH_BUCKETS: dict[str, tuple[float, float] | None] = {
    "short": (0.0, 10.0),
    "middle": (10.0, 30.0),
    "long": (30.0, 150.0),
    "full": None,
}
MAX_PRED_WINDOWS = 10


def _top1_iou(pred: NDArray[np.float64], gt: NDArray[np.float64]) -> float:
    """IoU of the first listed prediction with the GT window it overlaps most (first on ties)."""
    if len(pred) == 0:
        return 0.0
    top = pred[0, :2]
    best = int(np.argmax(iou_matrix(top[None, :], gt)[0]))
    return float(iou(top, gt[best]))


def moment_retrieval_metrics(
    preds: Sequence[NDArray[np.float64]], gts: Sequence[NDArray[np.float64]], keys: KeySet = "extended"
) -> dict[str, Any]:
    """``{"MR-mIoU"?, "MR-mAP": {thr: .., "average": ..}, "MR-R1": {thr: ..}}`` for one bucket."""
    r1_thresholds = R1_THRESHOLDS[keys]
    if len(gts) == 0:
        ap_by_thr = {str(t): 0.0 for t in MAP_THRESHOLDS} | {"average": 0.0}
        r1 = {str(t): 0.0 for t in r1_thresholds}
        return ({"MR-mIoU": 0.0} if keys == "extended" else {}) | {"MR-mAP": ap_by_thr, "MR-R1": r1}
    aps = np.array([detection_ap(p[:MAX_PRED_WINDOWS], g, MAP_THRESHOLDS) for p, g in zip(preds, gts, strict=True)])
    per_thr = aps.mean(axis=0)
    ap_by_thr = {str(t): percent(v) for t, v in zip(MAP_THRESHOLDS, per_thr, strict=True)}
    ap_by_thr["average"] = percent(np.mean(per_thr))
    ious = np.array([_top1_iou(p, g) for p, g in zip(preds, gts, strict=True)])
    r1 = {str(t): percent(np.mean(ious >= t)) for t in r1_thresholds}
    out: dict[str, Any] = {"MR-mIoU": percent(np.mean(ious))} if keys == "extended" else {}
    return out | {"MR-mAP": ap_by_thr, "MR-R1": r1}


def _in_bucket(gt: NDArray[np.float64], bounds: tuple[float, float] | None) -> NDArray[np.float64]:
    if bounds is None:
        return gt
    length = gt[:, 1] - gt[:, 0]
    return gt[(length > bounds[0]) & (length <= bounds[1])]


def _windows(rows: Sequence[Any], width: int) -> NDArray[np.float64]:
    return np.asarray(rows, dtype=np.float64).reshape(-1, width)


def _gt_clip_scores(row: Mapping[str, Any]) -> NDArray[np.float64]:
    try:
        return clip_scores(row["duration"], row["relevant_clip_ids"], row["saliency_scores"])
    except ValueError as err:
        msg = f"ground truth qid {row['qid']!r}: {err}"
        raise ValueError(msg) from None


def eval_submission(
    submission: Sequence[Mapping[str, Any]], ground_truth: Sequence[Mapping[str, Any]], keys: KeySet = "extended"
) -> dict[str, Any]:
    """The official metrics dict: ``brief`` first, then the other keys sorted (HL-min-*, full,
    long, middle, short). Records are community JSONL rows (validated by the caller)."""
    by_qid = {str(d["qid"]): d for d in submission}
    matched = [(by_qid.get(str(g["qid"])), g) for g in ground_truth]
    preds = [_windows(p["pred_relevant_windows"], 3) if p else np.zeros((0, 3)) for p, _ in matched]
    gts = [_windows(g["relevant_windows"], 2) for _, g in matched]

    metrics: dict[str, Any] = {}
    for name, bounds in LENGTH_BUCKETS.items():
        kept = [(p, _in_bucket(g, bounds)) for p, g in zip(preds, gts, strict=True)]
        kept = [(p, g) for p, g in kept if len(g)]
        metrics[name] = moment_retrieval_metrics([p for p, _ in kept], [g for _, g in kept], keys)

    full = metrics["full"]
    mr_brief = {
        "MR-full-mAP": full["MR-mAP"]["average"],
        "MR-full-mAP@0.5": full["MR-mAP"]["0.5"],
        "MR-full-mAP@0.75": full["MR-mAP"]["0.75"],
        "MR-short-mAP": metrics["short"]["MR-mAP"]["average"],
        "MR-middle-mAP": metrics["middle"]["MR-mAP"]["average"],
        "MR-long-mAP": metrics["long"]["MR-mAP"]["average"],
        "MR-full-R1@0.5": full["MR-R1"]["0.5"],
        "MR-full-R1@0.7": full["MR-R1"]["0.7"],
    }
    if keys == "extended":
        mr_brief |= {"MR-full-mIoU": full["MR-mIoU"], "MR-full-R1@0.3": full["MR-R1"]["0.3"]}
    brief: dict[str, float] = dict(sorted(mr_brief.items()))

    has_gt_saliency = all("saliency_scores" in g and "relevant_clip_ids" in g for g in ground_truth)
    has_pred_saliency = any(p is not None and p.get("pred_saliency_scores") for p, _ in matched)
    if ground_truth and has_gt_saliency and has_pred_saliency:
        gt_scores = [_gt_clip_scores(g) for g in ground_truth]
        pred_scores = [p.get("pred_saliency_scores") if p else None for p, _ in matched]
        hl = highlight_metrics(pred_scores, gt_scores)
        metrics |= hl
        for level, values in hl.items():
            brief |= {f"{level}-{k.split('-')[1]}": v for k, v in values.items()}
    return {"brief": brief} | dict(sorted(metrics.items()))
