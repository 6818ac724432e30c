"""STVG prediction and ground-truth files (JSONL, one query per line) and their scoring.

Prediction row (one per query; what a spatio-temporal grounding model writes)::

    {"qid": 17, "vid": "2727682922", "qtype": "declarative",
     "sted": [start_fid, end_fid_exclusive],
     "boxes": {"<fid>": [x1, y1, x2, y2], ...}}

- ``sted``: the predicted segment in raw frame ids of the original video, end exclusive
  (``start < end``). It alone is the predicted segment; the boxes outside it matter only to ``m_sIoU``.
- ``boxes``: absolute pixels of the original resolution, ``x1 <= x2``, ``y1 <= y2``, one per frame; they
  should cover every frame of the protocol's evaluation grid (``stvg.evaluation_grid``). ``qtype``
  is optional (the GT's wins).

Ground-truth row (one per query)::

    {"qid": 17, "vid": "2727682922", "qtype": "declarative", "split": "test",
     "gt_sted": [s, e_exclusive], "gt_boxes": {"<fid>": [x1, y1, x2, y2], ...},
     "segment": [begin_fid, end_fid], "fps": 29.97, "frame_count": 596, "dataset": "vidstg"}

- ``gt_sted``: the GT tube, end exclusive (VidSTG ``temporal_gt``; HC-STVG
  ``[st_frame, st_frame + len(bbox))``), ``e <= frame_count``.
- ``gt_boxes``: the target's boxes, at least on every frame the protocol scores (see ``stvg``).
- ``segment``: the clip the model sees, as the annotation gives it (VidSTG ``used_segment``; HC-STVG
  ``[0, frame_count - 1]`` with ``fps = frame_count / 20``, see ``stvg.hcstvg_segment``).
- ``fps``, ``frame_count``: of the video. ``qtype``: VidSTG's sentence type (``declarative`` for
  ``captions``, ``interrogative`` for ``questions``), absent for HC-STVG. ``split``: optional label.
- ``dataset``: ``vidstg`` (default) or ``hcstvg``; only the ``dense`` protocol reads it (which GT end
  STCAT / CG-STVG use).

``evaluate_stvg_files(preds, gt, protocol)`` returns one JSON-able dict:

- ``suite``: ``"stvg"``; ``protocol`` and its ``reference`` (the evaluator it follows, see ``stvg``).
- ``metrics``: ``{qtype: {"m_tIoU", "m_vIoU", "vIoU@0.3", "vIoU@0.5", "m_sIoU", "n"}}`` in percent, one
  row per sentence type (``all`` when no row has a qtype, ``unlabelled`` for rows without one among
  rows with one); ``m_sIoU`` (TubeDETR's ``gt_viou``) is absent under ``hcstvg``.
- ``pooled_over_qtypes``: the same over every query, only when there are several sentence types.
  VidSTG papers never pool: do not compare it with published numbers.
- ``splits``: ``{split: {qtype: metrics}}`` when GT rows carry ``split``.
- ``counts``: gt, predictions, missing_predictions, extra_predictions, missing_boxes (GT frames scored
  without a predicted box), queries_with_missing_boxes, gt_boxes_repeated (``dense``: GT end frame
  without a box, the previous one repeated), qtype_mismatches; ``missing_qids``: the first few.
- ``queries`` (with ``per_query=True``): one row per GT query with its fractions (not percent).

Policies: a GT query without a prediction scores 0 and is counted (never dropped); a GT frame the
protocol scores without a predicted box scores IoU 0 and is counted; predictions for qids absent
from the GT are ignored and counted; a prediction's qtype that differs from the GT's is counted and
the GT's used. Errors (``groundwork.errors.InputError``; ``MissingInputError`` for an absent file) name
the file, the line or qid, and the field: malformed rows, duplicate qids, a prediction for another
``vid`` than its GT row, a GT box missing on a frame the protocol needs.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from grounding.metrics.records import read_jsonl, validate_rows
from grounding.metrics.stvg import (
    DEFAULT_VIOU_THRESHOLDS,
    PROTOCOLS,
    GroundTruthTube,
    PredictedTube,
    QueryScore,
    aggregate,
    grouped_metrics,
    score_query,
)
from groundwork.errors import InputError, MissingInputError

BoxRow = list[float]  # length checked by _check_boxes: one error for the first bad box, not one per frame
MISSING_SHOWN = 10
NO_QTYPE = "all"
UNLABELLED = "unlabelled"


def _check_interval(value: tuple[int, int], field: str, strict: bool) -> None:
    start, end = value
    if start < 0 or (start >= end if strict else start > end):
        msg = f"{field} = {list(value)} must satisfy 0 <= start {'<' if strict else '<='} end"
        raise ValueError(msg)


def _check_boxes(boxes: Mapping[int, BoxRow], field: str) -> None:
    for fid, box in boxes.items():
        if fid < 0:
            msg = f"{field} has a negative frame id {fid}"
            raise ValueError(msg)
        if len(box) != 4:
            msg = f"{field}[{fid}] = {box} must hold 4 numbers [x1, y1, x2, y2]"
            raise ValueError(msg)
        if not all(math.isfinite(x) for x in box):
            msg = f"{field}[{fid}] = {box} holds a non-finite number"
            raise ValueError(msg)
        if box[0] > box[2] or box[1] > box[3]:
            msg = f"{field}[{fid}] = {box} is not [x1, y1, x2, y2] with x1 <= x2 and y1 <= y2"
            raise ValueError(msg)


class StvgPredictionRecord(BaseModel):
    model_config = ConfigDict(extra="allow")

    qid: int | str
    vid: int | str = Field(description="video id; must equal the GT row's")
    qtype: str | None = Field(default=None, description="sentence type; the GT's wins")
    sted: tuple[int, int] = Field(description="predicted segment [start_fid, end_fid), raw frame ids")
    boxes: dict[int, BoxRow] = Field(description="frame id -> [x1, y1, x2, y2] in pixels")

    @model_validator(mode="after")
    def _valid(self) -> StvgPredictionRecord:
        _check_interval(self.sted, "sted", strict=True)
        _check_boxes(self.boxes, "boxes")
        return self

    def tube(self) -> PredictedTube:
        return PredictedTube(self.sted, self.boxes)


class StvgGroundTruthRecord(BaseModel):
    model_config = ConfigDict(extra="allow")

    qid: int | str
    vid: int | str
    qtype: str | None = Field(default=None, description="declarative / interrogative (VidSTG); none for HC-STVG")
    split: str | None = None
    gt_sted: tuple[int, int] = Field(description="GT tube [s, e), raw frame ids, end exclusive")
    gt_boxes: dict[int, BoxRow] = Field(description="frame id -> [x1, y1, x2, y2] in pixels")
    segment: tuple[int, int] = Field(description="[begin_fid, end_fid] of the clip, as the annotation gives it")
    fps: float = Field(gt=0, description="video frame rate")
    frame_count: int = Field(gt=0, description="frames in the video")
    dataset: Literal["vidstg", "hcstvg"] = Field(default="vidstg", description="GT end convention of 'dense'")

    @model_validator(mode="after")
    def _valid(self) -> StvgGroundTruthRecord:
        _check_interval(self.gt_sted, "gt_sted", strict=True)
        _check_interval(self.segment, "segment", strict=False)
        if not math.isfinite(self.fps):
            msg = f"fps = {self.fps} is not finite"
            raise ValueError(msg)
        for field, value in (("gt_sted", self.gt_sted), ("segment", self.segment)):
            if value[1] > self.frame_count:
                msg = f"{field} = {list(value)} ends past frame_count {self.frame_count}"
                raise ValueError(msg)
        _check_boxes(self.gt_boxes, "gt_boxes")
        return self

    def tube(self) -> GroundTruthTube:
        return GroundTruthTube(
            self.gt_sted, self.gt_boxes, self.segment, self.fps, self.frame_count, self.dataset, qid=self.qid
        )


def read_stvg_file(path: Path, model: type[StvgPredictionRecord] | type[StvgGroundTruthRecord]) -> list[Any]:
    """Read and validate an STVG JSONL file; errors name the file, line, qid and field."""
    path = Path(path)
    if not path.is_file():
        msg = f"{model.__name__} file not found: {path}"
        raise MissingInputError(msg)
    try:
        return read_jsonl(path, model)
    except ValueError as err:
        raise InputError(str(err)) from None


def looks_like_stvg_gt(path: Path) -> bool:
    """True when the first row of a JSONL ground-truth file has a ``gt_sted`` field (the STVG format);
    False for an absent or unreadable file (the regular reader then reports it)."""
    path = Path(path)
    if not path.is_file():
        return False
    with path.open(encoding="utf-8", errors="replace") as f:
        for line in f:
            if line.strip():
                try:
                    row = json.loads(line)
                except json.JSONDecodeError:
                    return False
                return isinstance(row, dict) and "gt_sted" in row
    return False


def _validated(rows: Sequence[Any], model: type[BaseModel], name: str) -> list[Any]:
    if rows and all(isinstance(r, model) for r in rows):
        return list(rows)
    try:
        return validate_rows(((f"{name}[{i}]", row) for i, row in enumerate(rows)), model)
    except ValueError as err:
        raise InputError(str(err)) from None


def _labels(gt_rows: Sequence[StvgGroundTruthRecord], qtypes: Sequence[str | None]) -> list[str]:
    if all(q is None for q in qtypes):
        return [NO_QTYPE] * len(gt_rows)
    return [q if q is not None else UNLABELLED for q in qtypes]


def _query_row(g: StvgGroundTruthRecord, label: str, s: QueryScore) -> dict[str, Any]:
    row: dict[str, Any] = {"qid": g.qid, "vid": g.vid, "qtype": label}
    if g.split is not None:
        row["split"] = g.split
    return row | {
        "tIoU": s.tiou,
        "vIoU": s.viou,
        "sIoU": s.siou,
        "predicted": s.predicted,
        "gt_frames": s.gt_frames,
        "missing_boxes": s.missing_boxes,
    }


def evaluate_stvg(
    preds: Sequence[Mapping[str, Any] | StvgPredictionRecord],
    gt: Sequence[Mapping[str, Any] | StvgGroundTruthRecord],
    protocol: str = "tubedetr",
    thresholds: Sequence[float] = DEFAULT_VIOU_THRESHOLDS,
    per_query: bool = False,
    gt_name: str = "ground_truth",
) -> dict[str, Any]:
    """STVG metrics of prediction rows against GT rows (dicts or validated records); see the module doc.

    ``gt_name`` prefixes errors found while scoring (a GT box missing where the protocol needs one)."""
    reference = PROTOCOLS.get(protocol).reference
    pred_rows: list[StvgPredictionRecord] = _validated(preds, StvgPredictionRecord, "predictions")
    gt_rows: list[StvgGroundTruthRecord] = _validated(gt, StvgGroundTruthRecord, gt_name)
    if not gt_rows:
        msg = f"{gt_name}: the STVG ground truth is empty"
        raise InputError(msg)
    by_qid = {str(p.qid): p for p in pred_rows}
    gt_qids = {str(g.qid) for g in gt_rows}

    scores: list[QueryScore] = []
    qtypes: list[str | None] = []
    mismatches = 0
    for g in gt_rows:
        pred = by_qid.get(str(g.qid))
        if pred is not None and str(pred.vid) != str(g.vid):
            msg = f"qid {g.qid!r}: the prediction is for vid {pred.vid!r}, the ground truth ({gt_name}) for {g.vid!r}"
            raise InputError(msg)
        if pred is not None and pred.qtype is not None and g.qtype is not None and pred.qtype != g.qtype:
            mismatches += 1
        qtypes.append(g.qtype if g.qtype is not None else (pred.qtype if pred is not None else None))
        try:
            scores.append(score_query(pred.tube() if pred is not None else None, g.tube(), protocol))
        except InputError as err:
            raise InputError(f"{gt_name}: {err}") from None

    labels = _labels(gt_rows, qtypes)
    missing = [g.qid for g, s in zip(gt_rows, scores, strict=True) if not s.predicted]
    counts = {
        "gt": len(gt_rows),
        "predictions": len(pred_rows),
        "missing_predictions": len(missing),
        "extra_predictions": sum(str(p.qid) not in gt_qids for p in pred_rows),
        "missing_boxes": sum(s.missing_boxes for s in scores if s.predicted),
        "queries_with_missing_boxes": sum(s.predicted and s.missing_boxes > 0 for s in scores),
        "gt_boxes_repeated": sum(s.gt_box_repeated for s in scores),
        "qtype_mismatches": mismatches,
    }
    out: dict[str, Any] = {
        "suite": "stvg",
        "protocol": protocol,
        "reference": reference,
        "counts": counts,
        "missing_qids": missing[:MISSING_SHOWN],
        "metrics": grouped_metrics(scores, labels, thresholds),
    }
    if len(set(labels)) > 1:
        out["pooled_over_qtypes"] = aggregate(scores, thresholds)
    if any(g.split is not None for g in gt_rows):
        splits = [g.split if g.split is not None else UNLABELLED for g in gt_rows]
        out["splits"] = {
            name: grouped_metrics(
                [s for s, x in zip(scores, splits, strict=True) if x == name],
                [q for q, x in zip(labels, splits, strict=True) if x == name],
                thresholds,
            )
            for name in dict.fromkeys(splits)
        }
    if per_query:
        out["queries"] = [_query_row(g, q, s) for g, q, s in zip(gt_rows, labels, scores, strict=True)]
    return out


def evaluate_stvg_files(
    preds_path: Path, gt_path: Path, protocol: str = "tubedetr", per_query: bool = False
) -> dict[str, Any]:
    """``evaluate_stvg`` on an STVG prediction JSONL and an STVG ground-truth JSONL."""
    PROTOCOLS.get(protocol)  # an unknown protocol fails before any file is read
    gt_rows = read_stvg_file(Path(gt_path), StvgGroundTruthRecord)
    pred_rows = read_stvg_file(Path(preds_path), StvgPredictionRecord)
    result = evaluate_stvg(pred_rows, gt_rows, protocol, per_query=per_query, gt_name=str(gt_path))
    return {"predictions_file": str(preds_path), "gt_file": str(gt_path)} | result


def to_tubedetr(
    preds: Iterable[StvgPredictionRecord],
) -> tuple[dict[str, dict[str, list[list[float]]]], dict[str, dict[str, Any]]]:
    """Prediction rows as TubeDETR's evaluator takes them: ``predictions["{qid}_{fid}"] = {"boxes": [box]}``
    and ``video_predictions[qid] = {"sted": [s, e], "qtype": ...}`` (TubeDETR's ``video_id`` is one per
    sentence, hence the qid)."""
    boxes: dict[str, dict[str, list[list[float]]]] = {}
    videos: dict[str, dict[str, Any]] = {}
    for p in preds:
        videos[str(p.qid)] = {"sted": list(p.sted), "qtype": p.qtype}
        for fid, box in p.boxes.items():
            boxes[f"{p.qid}_{fid}"] = {"boxes": [list(box)]}
    return boxes, videos


def _table(rows: list[list[str]]) -> list[str]:
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    return [
        "  ".join(c.rjust(w) if j else c.ljust(w) for j, (c, w) in enumerate(zip(r, widths, strict=True))) for r in rows
    ]


def format_stvg(result: Mapping[str, Any]) -> str:
    """A readable text report of ``evaluate_stvg`` / ``evaluate_stvg_files`` output."""
    counts = result["counts"]
    lines = [
        f"suite: stvg   protocol: {result['protocol']} ({result['reference']})",
        f"queries: {counts['gt']}   predictions: {counts['predictions']}",
    ]
    if counts["missing_predictions"]:
        shown = ", ".join(map(str, result["missing_qids"]))
        lines.append(f"WARNING: {counts['missing_predictions']} GT queries have no prediction (scored 0): {shown}")
    if counts["missing_boxes"]:
        lines.append(
            f"WARNING: {counts['missing_boxes']} scored GT frames in {counts['queries_with_missing_boxes']} "
            "queries have no predicted box (scored IoU 0)"
        )
    if counts["gt_boxes_repeated"]:
        lines.append(
            f"note: {counts['gt_boxes_repeated']} GT tubes had no box on their last frame; "
            "the previous box was repeated (as STCAT / CG-STVG do)"
        )
    if counts["extra_predictions"]:
        lines.append(f"note: {counts['extra_predictions']} predictions for qids not in the GT were ignored")
    if counts["qtype_mismatches"]:
        lines.append(f"note: {counts['qtype_mismatches']} predictions carry another qtype than the GT (the GT's used)")
    names = ["n", "m_tIoU", "m_vIoU"] + [k for k in next(iter(result["metrics"].values())) if k.startswith("vIoU@")]
    if any("m_sIoU" in row for row in result["metrics"].values()):
        names.append("m_sIoU")

    def row(label: str, metrics: Mapping[str, Any]) -> list[str]:
        return [label] + [f"{metrics[k]:.2f}" if isinstance(metrics[k], float) else str(metrics[k]) for k in names]

    rows = [["qtype", *names]] + [row(q, m) for q, m in result["metrics"].items()]
    if "pooled_over_qtypes" in result:
        rows.append(row("pooled (papers never pool)", result["pooled_over_qtypes"]))
    for split, by_qtype in result.get("splits", {}).items():
        rows += [row(f"{split} / {q}", m) for q, m in by_qtype.items()]
    lines.append("")
    lines += _table(rows)
    return "\n".join(lines)
