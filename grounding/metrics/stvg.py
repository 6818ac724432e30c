"""Spatio-temporal video grounding (STVG: VidSTG, HC-STVG) metrics, as the reference evaluators compute them.

Definitions (VidSTG / STGRN; every reference below uses them). For one query, with S_p the predicted
frames, S_g the ground-truth (GT) tube frames, S_i = S_p & S_g and S_u = S_p | S_g:

- tIoU = |S_i| / |S_u|
- vIoU = (1 / |S_u|) * sum over t in S_i of IoU(pred_box(t), gt_box(t)); frames of S_u outside S_i add 0
- sIoU = mean box IoU over the GT frames alone (TubeDETR's ``gt_viou``; the temporal part from the oracle)

``m_tIoU``, ``m_vIoU`` and ``m_sIoU`` average them over queries; ``vIoU@R`` is the share of queries with
vIoU **strictly greater** than R (``>`` in every reference). Percentages are rounded to 0.01
(``temporal.percent``). VidSTG papers report declarative and interrogative sentences apart, never
pooled (``grouped_metrics`` groups by any label). Box IoU: ``[x1, y1, x2, y2]`` absolute pixels,
continuous areas ``(x2 - x1) * (y2 - y1)``, no +1 (``box_iou``, the project's one box-IoU function).

Inputs. A prediction (``PredictedTube``) is the predicted segment ``sted = (start, end)`` in raw frame
ids, end exclusive (TubeDETR's ``PostProcessSTVG`` writes ``[frame_ids[i_s], frame_ids[i_e] + 1]``), and
``boxes``: frame id -> box. S_p is the predicted segment, never "the frames that have a box": the
references require a box on every GT frame, inside the predicted segment or not. The GT
(``GroundTruthTube``) is its tube ``sted = (s, e)`` in raw frame ids, end exclusive (VidSTG
``temporal_gt``; HC-STVG ``[st_frame, st_frame + len(bbox))``), its boxes, the segment the model sees
as the annotation gives it (VidSTG ``used_segment`` ``[begin_fid, end_fid]``; HC-STVG ``[0, frame_count - 1]``,
see ``hcstvg_segment``), the video fps and frame count. No frame ids are shifted by any protocol.

Protocols (``PROTOCOLS``; numbers from different protocols are not comparable):

``tubedetr`` -- antoyang/TubeDETR ``datasets/vidstg_eval.py`` and ``hcstvg_eval.py`` at HEAD (after
commit 3c32cc9, which fixed ``max_end``, before it the minimum end):
  grid: the segment's frames ``begin <= f < end`` (end exclusive) down-sampled to 5 fps -- keep ``begin``,
  then each f whose ``int(f * 5 / fps)`` exceeds that of the last kept frame; over 200 left, keep
  ``grid[(j * n) // 200]`` for j < 200 (``tubedetr_grid``, defined in ``groundwork.stvg`` with the
  pipeline's patch features, which sample the same grid; re-exported here). A video under 5 fps keeps every frame
  (TubeDETR asserts instead). HC-STVG through TubeDETR: segment ``[0, frame_count - 1]`` and fps
  ``frame_count / 20`` (every video is 20 s).
  GT frames: grid frames with ``s <= f < e``; each needs a GT box and a predicted box.
  tIoU on raw frame intervals: ``inter = min(e_g, e_p) - max(s_g, s_p)``, 0 when ``inter <= 0``, else
  ``inter / ((e_g - s_g) + (e_p - s_p) - inter)``.
  vIoU on the grid: sum of IoU over GT frames in ``[max start, min end)`` divided by
  ``max(#grid frames in [min start, max end), 1)``. sIoU: mean IoU over the GT frames.

``dense`` -- jy0205/STCAT and HengLan/CGSTVG ``datasets/evaluation/{vidstg,hcstvg}_eval.py`` with the
GT their ``datasets/vidstg.py`` builds (the code "borrowed from TubeDETR" run on every raw frame):
  GT end made inclusive and clamped to the segment end: ``g = min(e, segment end)`` for VidSTG (its
  exclusive ``temporal_gt.end_fid`` read as the last frame), ``g = min(e - 1, segment end)`` for HC-STVG
  (``st_frame + len(bbox) - 1``, its true last frame; ``GroundTruthTube.dataset`` says which). GT
  frames are ``s .. g`` inclusive, each needing a box -- when frame ``g`` has none (VidSTG's exclusive
  end frame is often unannotated) the box of ``g - 1`` is repeated, as CG-STVG does, and counted
  (``QueryScore.gt_box_repeated``). The GT ``sted`` is then ``(s, g)`` while the predicted end stays
  exclusive: the one-frame asymmetry of the reference code (on VidSTG a prediction ``[s, e)`` equal to
  the GT scores tIoU 1 and one ``[s, e + 1)`` covering every GT box frame scores ``(e - s) / (e - s + 1)``).
  CG-STVG reads HC-STVG's ``st_frame`` 0-based (``st_frame - 1``) where TubeDETR keeps it: the GT file's
  frame ids decide, no protocol shifts them.
  tIoU: the interval formula above on ``(s, g)`` and ``sted``. vIoU: sum of IoU over GT frames in
  ``range(max start, min end)`` divided by ``max(len(range(min start, max end)), 1)``.
  sIoU: mean IoU over the ``g - s + 1`` GT frames. Test-time sampling (128 frames, boxes linearly
  interpolated to every raw frame) is the model's business: the prediction must hold those boxes.
  CG-STVG's preprocessing drops queries whose GT tube has a gap or lies outside the segment; here
  such GT is an error naming the query (drop it from the GT file to follow the reference).

``hcstvg`` -- the HC-STVG challenge scorer (tzhhhh123/HC-STVG ``eval_hcvg.py``), inclusive ends:
  ``st = sted[0]``, ``ed = sted[1] - 1`` for both sides; the prediction's boxes are those inside its
  ``[st, ed]`` (the challenge format has no others); the GT frames are the GT box keys in ``[s, e)``.
  shared = GT frames inside the prediction's ``[st, ed]`` that have a predicted box;
  ``all_frame = max(ed) - min(st) + 1``;
  ``tIoU = |shared| / all_frame``; ``vIoU = sum of IoU over shared / all_frame``. A GT frame inside the
  predicted segment without a predicted box therefore lowers tIoU too. No sIoU (the scorer has none).

Policies (the same in every protocol):
- a query without a prediction scores 0 on every metric and is counted (``QueryScore.predicted``);
  TubeDETR raises instead.
- a GT frame that the protocol scores and that has no predicted box scores IoU 0 and is counted
  (``QueryScore.missing_boxes``; under ``hcstvg`` only GT frames inside the predicted segment need one);
  TubeDETR and STCAT raise "No prediction for frame ...". A model that emits boxes only inside its
  predicted segment thus keeps its vIoU and loses sIoU only.
- a GT box missing on a frame the protocol needs (see above) is an ``InputError`` naming query and frame.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
from numpy.typing import ArrayLike, NDArray

from grounding.metrics.temporal import percent
from groundwork.errors import InputError
from groundwork.registry import Registry
from groundwork.stvg import (  # noqa: F401
    HCSTVG_SECONDS,
    TUBEDETR_FPS,
    TUBEDETR_MAX_FRAMES,
    hcstvg_segment,
    tubedetr_grid,
)

Box = Sequence[float]
Boxes = Mapping[int, Box]
Interval = tuple[int, int]
Dataset = Literal["vidstg", "hcstvg"]

DEFAULT_VIOU_THRESHOLDS: tuple[float, ...] = (0.3, 0.5)
SENTENCE_TYPES: tuple[str, ...] = ("declarative", "interrogative")  # VidSTG (TubeDETR's labels)


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


@dataclass(frozen=True)
class PredictedTube:
    """A predicted segment ``sted = (start, end)`` (raw frame ids, end exclusive) and its boxes."""

    sted: Interval
    boxes: Boxes


@dataclass(frozen=True)
class GroundTruthTube:
    """A GT tube ``sted = (s, e)`` (end exclusive), its boxes, and the video facts the grids need.

    ``segment`` is ``[begin_fid, end_fid]`` as the annotation gives it; each protocol reads its end as
    its reference does (TubeDETR: exclusive, STCAT / CG-STVG: inclusive). ``dataset`` picks the GT end
    ``dense`` uses (see the module doc). ``qid`` names the query in errors.
    """

    sted: Interval
    boxes: Boxes
    segment: Interval
    fps: float
    frame_count: int
    dataset: Dataset = "vidstg"
    qid: int | str = "?"


@dataclass(frozen=True)
class QueryScore:
    """One query's scores (fractions, not percent). ``siou`` is None under ``hcstvg``."""

    tiou: float
    viou: float
    siou: float | None
    gt_frames: int  # GT frames the protocol scored
    missing_boxes: int = 0  # of those, frames without a predicted box (scored IoU 0)
    predicted: bool = True  # False: no prediction for the query, everything scored 0
    gt_box_repeated: bool = False  # dense: the GT end frame had no box, the previous one was repeated


def interval_tiou(gt: Interval, pred: Interval) -> float:
    """tIoU of two raw-frame intervals ``[start, end)``, the references' formula (0 without overlap)."""
    inter = min(gt[1], pred[1]) - max(gt[0], pred[0])
    if inter <= 0:
        return 0.0
    return inter / ((gt[1] - gt[0]) + (pred[1] - pred[0]) - inter)


def _frame_ious(pred: Boxes, gt: Boxes, frames: Sequence[int]) -> tuple[list[float], int]:
    """Box IoU on each frame (frame order kept); a frame without a predicted box scores 0."""
    have = [i for i, f in enumerate(frames) if f in pred]
    ious = [0.0] * len(frames)
    if have:
        values = box_iou([pred[frames[i]] for i in have], [gt[frames[i]] for i in have])
        for i, v in zip(have, values.tolist(), strict=True):
            ious[i] = v
    return ious, len(frames) - len(have)


def _require_gt_boxes(qid: int | str, boxes: Boxes, frames: Sequence[int], protocol: str, why: str) -> None:
    missing = [f for f in frames if f not in boxes]
    if missing:
        shown = ", ".join(map(str, missing[:5])) + (", ..." if len(missing) > 5 else "")
        msg = (
            f"qid {qid!r}: field 'gt_boxes' has no box for frame(s) {shown} ({len(missing)} in all), "
            f"which the {protocol} protocol scores ({why})"
        )
        raise InputError(msg)


def _unpredicted(gt_frames: int, siou: float | None) -> QueryScore:
    return QueryScore(0.0, 0.0, siou, gt_frames, missing_boxes=gt_frames, predicted=False)


class StvgProtocol(ABC):
    """One reference evaluator: its evaluation frames and its per-query score."""

    name: str
    reference: str

    @abstractmethod
    def grid(self, segment: Interval, video_fps: float, frame_count: int) -> list[int]:
        """The frames a prediction should carry boxes for."""

    @abstractmethod
    def score(self, pred: PredictedTube | None, gt: GroundTruthTube) -> QueryScore:
        """Score one query; ``pred`` None is a missing prediction (scores 0)."""


PROTOCOLS: Registry[StvgProtocol] = Registry("STVG protocol")


class TubeDETRProtocol(StvgProtocol):
    name = "tubedetr"
    reference = "antoyang/TubeDETR datasets/vidstg_eval.py, hcstvg_eval.py (5 fps grid, max 200 frames)"

    def grid(self, segment: Interval, video_fps: float, frame_count: int) -> list[int]:
        return tubedetr_grid(segment[0], segment[1], video_fps)

    def score(self, pred: PredictedTube | None, gt: GroundTruthTube) -> QueryScore:
        grid = self.grid(gt.segment, gt.fps, gt.frame_count)
        gs, ge = gt.sted
        frames = [f for f in grid if gs <= f < ge]
        _require_gt_boxes(gt.qid, gt.boxes, frames, self.name, "a grid frame inside gt_sted")
        if pred is None:
            return _unpredicted(len(frames), 0.0)
        ious, missing = _frame_ious(pred.boxes, gt.boxes, frames)
        ps, pe = pred.sted
        lo, hi = max(gs, ps), min(ge, pe)
        union = sum(1 for f in grid if min(gs, ps) <= f < max(ge, pe))
        viou = sum(v for f, v in zip(frames, ious, strict=True) if lo <= f < hi) / max(union, 1)
        siou = sum(ious) / max(len(frames), 1)
        return QueryScore(interval_tiou(gt.sted, pred.sted), viou, siou, len(frames), missing)


class DenseProtocol(StvgProtocol):
    name = "dense"
    reference = "jy0205/STCAT, HengLan/CGSTVG datasets/evaluation/*_eval.py (every raw frame, inclusive GT end)"

    def grid(self, segment: Interval, video_fps: float, frame_count: int) -> list[int]:
        return list(range(segment[0], min(segment[1], frame_count - 1) + 1))

    def gt_tube(self, gt: GroundTruthTube) -> tuple[Interval, dict[int, Box], bool]:
        """``((s, g), boxes on s..g, repeated)``: the GT as STCAT / CG-STVG build it (see the module doc)."""
        s, e = gt.sted
        if e < gt.segment[0] or s > gt.segment[1]:
            msg = (
                f"qid {gt.qid!r}: gt_sted {list(gt.sted)} lies outside segment {list(gt.segment)}; "
                "STCAT / CG-STVG drop such queries, drop it from the GT file to follow them"
            )
            raise InputError(msg)
        last = e if gt.dataset == "vidstg" else e - 1
        g = min(last, gt.segment[1])
        frames = range(s, g + 1)
        boxes = {f: gt.boxes[f] for f in frames if f in gt.boxes}
        repeated = g not in boxes and g - 1 in boxes
        if repeated:
            boxes[g] = boxes[g - 1]
        why = f"every frame from gt_sted start to {g} = min({'end' if last == e else 'end - 1'}, segment end)"
        _require_gt_boxes(gt.qid, boxes, frames, self.name, why)
        return (s, g), boxes, repeated

    def score(self, pred: PredictedTube | None, gt: GroundTruthTube) -> QueryScore:
        (gs, ge), gt_boxes, repeated = self.gt_tube(gt)
        frames = list(range(gs, ge + 1))
        if pred is None:
            return QueryScore(0.0, 0.0, 0.0, len(frames), len(frames), predicted=False, gt_box_repeated=repeated)
        ious, missing = _frame_ious(pred.boxes, gt_boxes, frames)
        ps, pe = pred.sted
        lo, hi = max(gs, ps), min(ge, pe)
        union = max(max(ge, pe) - min(gs, ps), 0)
        viou = sum(v for f, v in zip(frames, ious, strict=True) if lo <= f < hi) / max(union, 1)
        siou = sum(ious) / len(frames)
        return QueryScore(interval_tiou((gs, ge), pred.sted), viou, siou, len(frames), missing, True, repeated)


class HCSTVGProtocol(StvgProtocol):
    name = "hcstvg"
    reference = "tzhhhh123/HC-STVG eval_hcvg.py (challenge scorer, inclusive ends)"

    def grid(self, segment: Interval, video_fps: float, frame_count: int) -> list[int]:
        return list(range(segment[0], min(segment[1], frame_count - 1) + 1))

    def score(self, pred: PredictedTube | None, gt: GroundTruthTube) -> QueryScore:
        gs, ge = gt.sted
        frames = sorted(f for f in gt.boxes if gs <= f < ge)
        if pred is None:
            return _unpredicted(len(frames), None)
        ps, pe = pred.sted
        inside = [f for f in frames if ps <= f < pe]
        shared = [f for f in inside if f in pred.boxes]
        all_frame = max(ge - 1, pe - 1) - min(gs, ps) + 1
        ious, _ = _frame_ious(pred.boxes, gt.boxes, shared)
        return QueryScore(len(shared) / all_frame, sum(ious) / all_frame, None, len(frames), len(inside) - len(shared))


for _protocol in (TubeDETRProtocol(), DenseProtocol(), HCSTVGProtocol()):
    PROTOCOLS.register(_protocol.name)(_protocol)


def evaluation_grid(protocol: str, segment: Interval, video_fps: float, frame_count: int) -> list[int]:
    """The frames ``protocol`` evaluates on a video (those a prediction should carry boxes for)."""
    return PROTOCOLS.get(protocol).grid(segment, video_fps, frame_count)


def score_query(pred: PredictedTube | None, gt: GroundTruthTube, protocol: str = "tubedetr") -> QueryScore:
    """One query's ``QueryScore`` under ``protocol`` (``pred`` None: a missing prediction, scored 0)."""
    return PROTOCOLS.get(protocol).score(pred, gt)


def aggregate(
    scores: Sequence[QueryScore], thresholds: Sequence[float] = DEFAULT_VIOU_THRESHOLDS
) -> dict[str, float | int]:
    """``{"m_tIoU", "m_vIoU", "vIoU@0.3", "vIoU@0.5", "m_sIoU"?, "n"}`` over queries, in percent.

    Sums run in query order, as the references add them; ``m_sIoU`` is left out when a score has none
    (``hcstvg``). No query gives zeros."""
    n = len(scores)
    out: dict[str, float | int] = {
        "m_tIoU": percent(sum(s.tiou for s in scores) / n) if n else 0.0,
        "m_vIoU": percent(sum(s.viou for s in scores) / n) if n else 0.0,
    }
    for t in thresholds:
        out[f"vIoU@{t}"] = percent(sum(s.viou > t for s in scores) / n) if n else 0.0
    if all(s.siou is not None for s in scores):
        out["m_sIoU"] = percent(sum(s.siou or 0.0 for s in scores) / n) if n else 0.0
    out["n"] = n
    return out


def label_order(labels: Sequence[str]) -> list[str]:
    """VidSTG's sentence types first (declarative, interrogative), other labels in order of appearance."""
    seen = list(dict.fromkeys(labels))
    return [t for t in SENTENCE_TYPES if t in seen] + [t for t in seen if t not in SENTENCE_TYPES]


def grouped_metrics(
    scores: Sequence[QueryScore], labels: Sequence[str], thresholds: Sequence[float] = DEFAULT_VIOU_THRESHOLDS
) -> dict[str, dict[str, float | int]]:
    """``{label: aggregate(...)}``: one row per label (e.g. per sentence type), never pooled."""
    if len(scores) != len(labels):
        msg = f"grouped_metrics: {len(scores)} scores for {len(labels)} labels"
        raise ValueError(msg)
    return {
        label: aggregate([s for s, x in zip(scores, labels, strict=True) if x == label], thresholds)
        for label in label_order(labels)
    }
