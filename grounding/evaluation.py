"""Evaluate community-format prediction files against ground truth, standalone.

``evaluate_prediction_files(preds, gt)`` reads both JSONL files (``grounding.metrics.records``
describes the rows and the errors), picks the suite and returns one JSON-able dict:

- ``suite``: ``"qvhighlights"`` when every GT row carries saliency (``relevant_clip_ids`` +
  ``saliency_scores``), else ``"temporal"``; a caller may force one.
- ``metrics``: the official QVHighlights dict (``qvhighlights.eval_submission``) or the temporal
  metrics (R1/R5 at IoU 0.3/0.5/0.7, mIoU, n).
- ``splits``: per-split temporal metrics, when GT rows carry ``split`` or a ``splits`` map
  (qid -> label) is given.
- ``counts``: gt, predictions, missing_predictions, extra_predictions, unsorted_predictions;
  ``missing_qids``: the first few GT qids without a prediction.
- ``diagnostics``: ``same_window``, how often a query's top-1 window repeats another query's in
  the same video, in percent (``grounding.metrics.temporal.same_window_share``; 100 for a
  constant predictor). Above ``COLLAPSED`` the model gives one answer whatever the query asks, and
  ``format_metrics`` warns: such a model can still score well where moments cluster in time (a
  val-chosen checkpoint trained on few queries often does).

Policy for a GT qid without a prediction: it is scored as a miss (IoU 0, AP 0, no highlight hit),
never dropped, so a partial prediction file cannot look better than a complete one; it is counted
and ``format_metrics`` prints a warning. Predictions for qids absent from the GT are ignored and
counted. Duplicate qids in either file are an error.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Literal

import numpy as np

from grounding.metrics.qvhighlights import eval_submission
from grounding.metrics.records import GroundTruthRecord, PredictionRecord, read_jsonl, validate_rows
from grounding.metrics.splits import split_reports
from grounding.metrics.temporal import same_window_share, temporal_metrics

Suite = Literal["auto", "qvhighlights", "temporal"]
MISSING_SHOWN = 10
COLLAPSED = 50.0  # same_window (% repeats of a top-1 window within a video) above which a prediction set is a constant


def collapsed(same_window: float | None) -> bool:
    """The one rule for a collapsed prediction set: ``same_window`` (the % of a video's queries whose
    top-1 window repeats another's; ``grounding.metrics.temporal.same_window_share``) above
    ``COLLAPSED``. None (not measured) is not collapsed."""
    return same_window is not None and same_window > COLLAPSED


def _records(rows: Sequence[Any], model: type, name: str) -> list[Any]:
    if rows and isinstance(rows[0], model):
        return list(rows)
    return validate_rows(((f"{name}[{i}]", row) for i, row in enumerate(rows)), model)


def evaluate_predictions(
    preds: Sequence[Mapping[str, Any] | PredictionRecord],
    gt: Sequence[Mapping[str, Any] | GroundTruthRecord],
    splits: Mapping[Any, str] | None = None,
    suite: Suite = "auto",
) -> dict[str, Any]:
    """Metrics of prediction rows against GT rows (dicts or validated records); see the module doc."""
    pred_rows: list[PredictionRecord] = _records(preds, PredictionRecord, "predictions")
    gt_rows: list[GroundTruthRecord] = _records(gt, GroundTruthRecord, "ground_truth")
    if not gt_rows:
        msg = "evaluate_predictions: the ground truth is empty"
        raise ValueError(msg)
    by_qid = {str(p.qid): p for p in pred_rows}
    gt_qids = {str(g.qid) for g in gt_rows}
    missing = [g.qid for g in gt_rows if str(g.qid) not in by_qid]
    counts = {
        "gt": len(gt_rows),
        "predictions": len(pred_rows),
        "missing_predictions": len(missing),
        "extra_predictions": sum(str(p.qid) not in gt_qids for p in pred_rows),
        "unsorted_predictions": sum(not p.is_sorted for p in pred_rows),
    }
    if suite == "auto":
        suite = "qvhighlights" if all(g.has_saliency for g in gt_rows) else "temporal"
    if suite not in ("qvhighlights", "temporal"):
        msg = f"unknown suite {suite!r}; available: auto, qvhighlights, temporal"
        raise ValueError(msg)

    pred_windows = [
        np.asarray(by_qid[str(g.qid)].pred_relevant_windows, dtype=np.float64).reshape(-1, 3)
        if str(g.qid) in by_qid
        else np.zeros((0, 3))
        for g in gt_rows
    ]
    gt_windows = [np.asarray(g.relevant_windows, dtype=np.float64) for g in gt_rows]
    if suite == "qvhighlights":
        metrics = eval_submission(
            [p.model_dump(exclude_none=True) for p in pred_rows],
            [g.model_dump(exclude_none=True) for g in gt_rows],
        )
    else:
        metrics = temporal_metrics(pred_windows, gt_windows)

    out: dict[str, Any] = {
        "suite": suite,
        "counts": counts,
        "missing_qids": missing[:MISSING_SHOWN],
        "metrics": metrics,
        "diagnostics": {"same_window": same_window_share(pred_windows, [g.vid for g in gt_rows])},
    }
    labels = [splits.get(g.qid, splits.get(str(g.qid))) if splits else g.split for g in gt_rows]
    if any(label is not None for label in labels):
        named = [label if label is not None else "unlabelled" for label in labels]
        out["splits"] = split_reports(pred_windows, gt_windows, named)
    return out


def evaluate_prediction_files(preds: Path, gt: Path, suite: Suite = "auto") -> dict[str, Any]:
    """``evaluate_predictions`` on a prediction JSONL and a GT JSONL (errors name file and line)."""
    gt_rows = read_jsonl(Path(gt), GroundTruthRecord)
    pred_rows = read_jsonl(Path(preds), PredictionRecord)
    result = evaluate_predictions(pred_rows, gt_rows, suite=suite)
    return {"predictions_file": str(preds), "gt_file": str(gt)} | result


def _table(rows: list[list[str]]) -> list[str]:
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    return [
        "  ".join(cell.rjust(w) if j else cell.ljust(w) for j, (cell, w) in enumerate(zip(row, widths, strict=True)))
        for row in rows
    ]


def _fmt(value: Any) -> str:
    return f"{value:.2f}" if isinstance(value, float) else str(value)


def format_metrics(metrics: Mapping[str, Any]) -> str:
    """A readable text report of ``evaluate_predictions`` output (or of any flat metrics dict)."""
    if "suite" not in metrics:
        return "\n".join(_table([["metric", "value"]] + [[k, _fmt(v)] for k, v in metrics.items()]))
    counts = metrics["counts"]
    lines = [
        f"suite: {metrics['suite']}   queries: {counts['gt']}   predictions: {counts['predictions']}",
    ]
    if counts["missing_predictions"]:
        shown = ", ".join(map(str, metrics["missing_qids"]))
        lines.append(f"WARNING: {counts['missing_predictions']} GT queries have no prediction (scored 0): {shown}")
    if counts["extra_predictions"]:
        lines.append(f"note: {counts['extra_predictions']} predictions for qids not in the GT were ignored")
    if counts["unsorted_predictions"]:
        lines.append(f"note: {counts['unsorted_predictions']} prediction rows are not sorted by score")
    same = metrics.get("diagnostics", {}).get("same_window")
    if collapsed(same):
        lines.append(
            f"WARNING: the queries of a video get the same top-1 window ({same:.0f}% repeats): the model "
            "answers the same whatever the query asks (a constant predictor; its scores say where moments "
            "usually lie)"
        )
    body = metrics["metrics"]
    if metrics["suite"] == "qvhighlights":
        lines.append("")
        lines += _table([["metric", "value"]] + [[k, _fmt(v)] for k, v in body["brief"].items()])
        lines.append("")
        header = ["bucket", "mAP", "mAP@0.5", "mAP@0.75", "R1@0.5", "R1@0.7"]
        rows = [header]
        for name in ("short", "middle", "long", "full"):
            b = body[name]
            mean_ap = [_fmt(b["MR-mAP"][k]) for k in ("average", "0.5", "0.75")]
            rows.append([name, *mean_ap, *(_fmt(b["MR-R1"][k]) for k in ("0.5", "0.7"))])
        lines += _table(rows)
    else:
        lines.append("")
        lines += _table([["metric", "value"]] + [[k, _fmt(v)] for k, v in body.items()])
    if "splits" in metrics:
        keys = list(next(iter(metrics["splits"].values())))
        rows = [["split", *keys]] + [[name, *(_fmt(m[k]) for k in keys)] for name, m in metrics["splits"].items()]
        lines += ["", *_table(rows)]
    return "\n".join(lines)
