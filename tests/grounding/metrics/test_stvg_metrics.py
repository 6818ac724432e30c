"""STVG metrics under the three reference protocols, on cases worked by hand from each reference's logic.

Worked cases A-E are those of the method notes (bridge_stg.md section 3.5). Boxes are in pixels;
``BOX`` against ``SHIFTED`` (half a width to the right) has IoU 50 / 150 = 1/3, against ``HALF`` (the
top half) exactly 0.5.
"""

from __future__ import annotations

import numpy as np
import pytest

from grounding.metrics.stvg import (
    PROTOCOLS,
    GroundTruthTube,
    PredictedTube,
    QueryScore,
    aggregate,
    box_iou,
    evaluation_grid,
    grouped_metrics,
    hcstvg_segment,
    interval_tiou,
    score_query,
    tubedetr_grid,
)
from groundwork.errors import InputError

BOX = [0.0, 0.0, 10.0, 10.0]
SHIFTED = [5.0, 0.0, 15.0, 10.0]  # IoU with BOX: 1/3
HALF = [0.0, 0.0, 10.0, 5.0]  # IoU with BOX: exactly 0.5
FAR = [20.0, 20.0, 30.0, 30.0]  # IoU with BOX: 0


def gt_tube(
    sted: tuple[int, int],
    frames: range | list[int] | None = None,
    segment: tuple[int, int] = (0, 30),
    fps: float = 5.0,
    frame_count: int = 30,
    dataset: str = "vidstg",
) -> GroundTruthTube:
    """GT with ``BOX`` on ``frames`` (default: every frame of ``sted``). At 5 fps TubeDETR's grid
    keeps every raw frame: the "dense 1-fps-equivalent grid" of the notes' cases A-D."""
    frames = range(*sted) if frames is None else frames
    boxes = {f: BOX for f in frames}
    return GroundTruthTube(sted, boxes, segment, fps, frame_count, dataset, qid="q1")  # type: ignore[arg-type]


def pred_tube(
    sted: tuple[int, int], box: list[float] = BOX, frames: range | list[int] = range(0, 300)
) -> PredictedTube:
    """A prediction with ``box`` on ``frames`` (default: every frame, as the references require)."""
    return PredictedTube(sted, {f: box for f in frames})


def test_box_iou_hand_cases() -> None:
    np.testing.assert_allclose(
        box_iou([BOX, BOX, BOX, BOX, [1, 1, 1, 5]], [BOX, SHIFTED, HALF, FAR, [1, 1, 1, 5]]),
        [1.0, 1 / 3, 0.5, 0.0, 0.0],
    )


def test_interval_tiou_is_on_exclusive_raw_intervals() -> None:
    assert interval_tiou((10, 20), (15, 25)) == pytest.approx(5 / 15)
    assert interval_tiou((10, 20), (20, 30)) == 0.0  # touching: no shared frame
    assert interval_tiou((10, 20), (10, 20)) == 1.0


def test_tubedetr_grid_keeps_every_frame_at_or_below_5_fps() -> None:
    assert evaluation_grid("tubedetr", (0, 30), 5.0, 30) == list(range(30))


# --- worked cases A-E (notes section 3.5), TubeDETR protocol ---------------------------------------


@pytest.mark.parametrize(
    ("case", "gt", "pred", "tiou", "viou", "siou"),
    [
        ("A", (10, 20), pred_tube((15, 25)), 1 / 3, 1 / 3, 1.0),
        ("B", (10, 20), pred_tube((15, 25), SHIFTED), 1 / 3, 1 / 9, 1 / 3),
        ("C", (0, 10), pred_tube((0, 10), HALF), 1.0, 0.5, 0.5),
        ("D", (0, 10), pred_tube((10, 20)), 0.0, 0.0, 1.0),
    ],
)
def test_worked_cases_a_to_d(
    case: str, gt: tuple[int, int], pred: PredictedTube, tiou: float, viou: float, siou: float
) -> None:
    score = score_query(pred, gt_tube(gt), "tubedetr")
    assert score.tiou == pytest.approx(tiou), case
    assert score.viou == pytest.approx(viou), case
    assert score.siou == pytest.approx(siou), case
    assert score.missing_boxes == 0


def test_worked_case_c_is_not_counted_at_viou_05() -> None:
    # Difference 1 (vIoU@R counted >= R): every reference counts vIoU > R strictly; vIoU is exactly 0.5.
    score = score_query(pred_tube((0, 10), HALF), gt_tube((0, 10)), "tubedetr")
    assert score.viou == 0.5
    metrics = aggregate([score])
    assert metrics["vIoU@0.5"] == 0.0
    assert metrics["vIoU@0.3"] == 100.0


def test_worked_case_e_tiou_on_raw_frames_viou_on_the_grid() -> None:
    # Difference 2 (tIoU counted over frame keys): at 29.97 fps the 5 fps grid keeps every 6th frame; GT
    # [100, 200) holds grid frames 102..198 (17), the union [100, 250) 102..246 (25), the intersection
    # [150, 200) 150..198 (9). tIoU stays on raw intervals (50 / 150); counting grid frames would give 9 / 25.
    gt = gt_tube((100, 200), segment=(0, 300), fps=29.97, frame_count=300)
    assert evaluation_grid("tubedetr", gt.segment, gt.fps, gt.frame_count) == list(range(0, 300, 6))
    score = score_query(pred_tube((150, 250)), gt, "tubedetr")
    assert score.tiou == pytest.approx(1 / 3)
    assert score.tiou != pytest.approx(9 / 25)
    assert score.viou == 0.36  # 9 / 25
    assert score.siou == 1.0
    assert score.gt_frames == 17
    # the dense protocol scores every raw frame: 50 / 150
    assert score_query(pred_tube((150, 250)), gt, "dense").viou == pytest.approx(1 / 3)


def test_predicted_segment_is_sted_not_the_frames_with_boxes() -> None:
    # Difference 3 (predicted frames = "every frame that has a box"): the prediction carries a box on
    # every frame, as the references require, yet only its segment [15, 25) is predicted: tIoU 1/3, not 1.
    gt = gt_tube((10, 20))
    pred = pred_tube((15, 25), frames=range(30))
    for protocol in ("tubedetr", "dense", "hcstvg"):
        score = score_query(pred, gt, protocol)
        assert score.tiou < 0.5, protocol
    assert score_query(pred, gt, "tubedetr").tiou == pytest.approx(1 / 3)
    assert score_query(pred, gt, "hcstvg").tiou == pytest.approx(1 / 3)


def test_sentence_types_are_reported_apart_never_pooled() -> None:
    # Difference 4 (no declarative / interrogative split): VidSTG reports each sentence type on its own.
    gt = gt_tube((10, 20))
    scores = [
        score_query(pred_tube((10, 20)), gt),  # perfect
        score_query(pred_tube((20, 30)), gt),  # no overlap
        score_query(pred_tube((15, 25)), gt),  # case A
    ]
    report = grouped_metrics(scores, ["interrogative", "declarative", "declarative"])
    assert list(report) == ["declarative", "interrogative"]  # the papers' order
    assert report["interrogative"] == {
        "m_tIoU": 100.0,
        "m_vIoU": 100.0,
        "vIoU@0.3": 100.0,
        "vIoU@0.5": 100.0,
        "m_sIoU": 100.0,
        "n": 1,
    }
    assert report["declarative"] == {
        "m_tIoU": 16.67,
        "m_vIoU": 16.67,
        "vIoU@0.3": 50.0,
        "vIoU@0.5": 0.0,
        "m_sIoU": 100.0,
        "n": 2,
    }
    with pytest.raises(ValueError, match="3 scores for 2 labels"):
        grouped_metrics(scores, ["declarative", "interrogative"])


# --- grids ------------------------------------------------------------------------------------------


def test_tubedetr_grid_caps_at_200_frames() -> None:
    # 10 fps -> keep f when int(f / 2) grows: the 250 even frames of [0, 500); capped at 200 by index
    # (j * 250) // 200 = floor(1.25 j): 0, 1, 2, 3, 5, 6, 7, 8, 10, ... -> frames twice that.
    grid = tubedetr_grid(0, 500, 10.0)
    assert len(grid) == 200
    assert grid[:9] == [0, 2, 4, 6, 10, 12, 14, 16, 20]
    assert grid[-1] == 2 * 248


def test_hcstvg_grid_through_tubedetr_spans_the_20_s_video() -> None:
    # TubeDETR's HC-STVG: fps = frame_count / 20, frames [0, frame_count - 1) at 5 fps.
    segment, fps = hcstvg_segment(500)
    assert (segment, fps) == ((0, 499), 25.0)
    assert evaluation_grid("tubedetr", segment, fps, 500) == list(range(0, 499, 5))


def test_dense_and_hcstvg_grids_are_every_raw_frame_of_the_segment() -> None:
    assert evaluation_grid("dense", (3, 9), 29.97, 100) == list(range(3, 10))  # used_segment end inclusive
    assert evaluation_grid("hcstvg", (0, 99), 25.0, 50) == list(range(50))  # never past the last frame


def test_unknown_protocol_is_an_input_error_with_a_suggestion() -> None:
    with pytest.raises(InputError, match="unknown STVG protocol 'dens'; did you mean 'dense'"):
        score_query(None, gt_tube((0, 10)), "dens")
    assert PROTOCOLS.names() == ["dense", "hcstvg", "tubedetr"]


# --- dense protocol (STCAT / CG-STVG), worked from datasets/vidstg.py + evaluation/vidstg_eval.py ----


def test_dense_vidstg_reads_the_exclusive_gt_end_as_inclusive() -> None:
    # VidSTG GT [10, 20), used_segment [0, 99]: CG-STVG keeps GT frames 10..20 (11), sted (10, 20).
    # Frame 20 has no GT box (the tube ends at 19): the box of frame 19 is repeated, and counted.
    gt = gt_tube((10, 20), segment=(0, 99), frame_count=100)
    exact = score_query(pred_tube((10, 20)), gt, "dense")
    assert (exact.tiou, exact.viou, exact.siou, exact.gt_frames) == (1.0, 1.0, 1.0, 11)
    assert exact.gt_box_repeated
    # covering every GT box frame, [10, 21): inter 10, union 10 + 11 - 10; vIoU 10 frames over range(10, 21)
    longer = score_query(pred_tube((10, 21)), gt, "dense")
    assert longer.tiou == pytest.approx(10 / 11)
    assert longer.viou == pytest.approx(10 / 11)
    # frame 20 counts in sIoU only: a wrong box there leaves vIoU and lowers sIoU to 10 / 11
    wrong_end = PredictedTube((10, 20), {f: (FAR if f == 20 else BOX) for f in range(30)})
    score = score_query(wrong_end, gt, "dense")
    assert (score.tiou, score.viou) == (1.0, 1.0)
    assert score.siou == pytest.approx(10 / 11)
    # the TubeDETR protocol scores frames 10..19 only
    assert score_query(wrong_end, gt, "tubedetr").siou == 1.0


def test_dense_vidstg_clamps_the_gt_end_to_the_segment_end() -> None:
    # GT [90, 100) with end_fid = frame_count, used_segment [0, 99]: g = min(100, 99) = 99, sted (90, 99),
    # GT frames 90..99 (10). Prediction [90, 100): inter 9, union 9 + 10 - 9 -> 0.9; vIoU 9 of range(90, 100).
    gt = gt_tube((90, 100), segment=(0, 99), frame_count=100)
    score = score_query(pred_tube((90, 100)), gt, "dense")
    assert score.tiou == pytest.approx(0.9)
    assert score.viou == pytest.approx(0.9)
    assert (score.siou, score.gt_frames, score.gt_box_repeated) == (1.0, 10, False)


def test_dense_hcstvg_uses_the_true_last_frame() -> None:
    # CG-STVG's HC-STVG GT end is st_frame + len(bbox) - 1: GT [10, 20) -> frames 10..19, sted (10, 19).
    # Prediction [10, 20): inter 9, union 9 + 10 - 9 -> 0.9; vIoU 9 frames of range(10, 20) -> 0.9.
    gt = gt_tube((10, 20), segment=(0, 99), frame_count=100, dataset="hcstvg")
    score = score_query(pred_tube((10, 20)), gt, "dense")
    assert score.tiou == pytest.approx(0.9)
    assert score.viou == pytest.approx(0.9)
    assert (score.siou, score.gt_frames, score.gt_box_repeated) == (1.0, 10, False)


def test_dense_gt_gap_or_gt_outside_the_segment_is_an_input_error() -> None:
    gap = gt_tube((10, 20), frames=[f for f in range(10, 20) if f != 13], segment=(0, 99), frame_count=100)
    with pytest.raises(InputError, match=r"qid 'q1': field 'gt_boxes' has no box for frame\(s\) 13 .*dense"):
        score_query(pred_tube((10, 20)), gap, "dense")
    outside = gt_tube((50, 60), segment=(0, 40), frame_count=100)
    with pytest.raises(InputError, match=r"qid 'q1': gt_sted \[50, 60\] lies outside segment \[0, 40\]"):
        score_query(pred_tube((10, 20)), outside, "dense")


# --- hcstvg protocol (challenge scorer eval_hcvg.py), inclusive ends --------------------------------


def test_hcstvg_counts_shared_frames_over_the_inclusive_hull() -> None:
    # GT st 10 ed 19, prediction st 15 ed 24 with boxes on 15..24 only: shared 15..19 (5),
    # all_frame = max(19, 24) - min(10, 15) + 1 = 15.
    gt = gt_tube((10, 20))
    score = score_query(pred_tube((15, 25), frames=range(15, 25)), gt, "hcstvg")
    assert score.tiou == pytest.approx(5 / 15)
    assert score.viou == pytest.approx(5 / 15)
    assert score.siou is None
    assert "m_sIoU" not in aggregate([score])


def test_hcstvg_gaps_lower_tiou_where_tubedetr_keeps_raw_intervals() -> None:
    # A GT box missing on frame 12: the scorer iterates GT box keys, 9 shared frames of all_frame 10.
    gap = gt_tube((10, 20), frames=[f for f in range(10, 20) if f != 12])
    score = score_query(pred_tube((10, 20)), gap, "hcstvg")
    assert (score.tiou, score.viou, score.gt_frames) == (pytest.approx(0.9), pytest.approx(0.9), 9)
    # A predicted box missing on GT frame 17 inside the predicted segment: not shared (tIoU 4 / 15 too)
    # and counted; TubeDETR's protocol keeps tIoU on the raw intervals and scores the frame IoU 0.
    pred = pred_tube((15, 25), frames=[f for f in range(15, 25) if f != 17])
    hc = score_query(pred, gt_tube((10, 20)), "hcstvg")
    assert (hc.tiou, hc.viou, hc.missing_boxes) == (pytest.approx(4 / 15), pytest.approx(4 / 15), 1)
    td = score_query(pred, gt_tube((10, 20)), "tubedetr")
    assert (td.tiou, td.viou) == (pytest.approx(1 / 3), pytest.approx(4 / 15))
    assert td.missing_boxes == 6  # 10..14 (outside the predicted segment) and 17


# --- policies ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("protocol", ["tubedetr", "dense", "hcstvg"])
def test_missing_prediction_scores_zero_and_is_counted(protocol: str) -> None:
    gt = gt_tube((10, 20))
    missing = score_query(None, gt, protocol)
    assert (missing.tiou, missing.viou, missing.predicted) == (0.0, 0.0, False)
    assert missing.siou == (None if protocol == "hcstvg" else 0.0)
    metrics = aggregate([score_query(pred_tube((10, 20)), gt, protocol), missing])
    assert (metrics["m_tIoU"], metrics["m_vIoU"], metrics["vIoU@0.5"], metrics["n"]) == (50.0, 50.0, 50.0, 2)


@pytest.mark.parametrize("protocol", ["tubedetr", "dense"])
def test_missing_predicted_box_on_a_gt_frame_scores_zero_and_is_counted(protocol: str) -> None:
    # Policy: no traceback, the frame scores IoU 0 and is counted (TubeDETR raises "No prediction for frame").
    gt = gt_tube((10, 20), frames=range(10, 21))  # a box on frame 20 too, so dense repeats nothing
    score = score_query(pred_tube((10, 20), frames=range(10, 15)), gt, protocol)
    assert score.tiou == 1.0
    assert score.viou == pytest.approx(0.5)  # 5 of the 10 frames of range(10, 20)
    assert score.missing_boxes == score.gt_frames - 5
    assert score.siou == pytest.approx(5 / score.gt_frames)


def test_boxes_only_inside_the_predicted_segment_keep_viou() -> None:
    # The "coupled" baseline predicts boxes on its segment only: vIoU as if every box were there, sIoU lower.
    gt = gt_tube((10, 20))
    inside = score_query(pred_tube((15, 25), frames=range(15, 25)), gt, "tubedetr")
    everywhere = score_query(pred_tube((15, 25)), gt, "tubedetr")
    assert inside.viou == everywhere.viou
    assert (inside.siou, everywhere.siou, inside.missing_boxes) == (pytest.approx(0.5), 1.0, 5)


def test_tubedetr_gt_box_missing_on_a_grid_frame_is_an_input_error() -> None:
    gt = gt_tube((10, 20), frames=[f for f in range(10, 20) if f not in (11, 12)])
    with pytest.raises(InputError, match=r"qid 'q1': field 'gt_boxes' has no box for frame\(s\) 11, 12 "):
        score_query(pred_tube((10, 20)), gt, "tubedetr")


def test_aggregate_of_nothing_is_zero() -> None:
    assert aggregate([]) == {"m_tIoU": 0.0, "m_vIoU": 0.0, "vIoU@0.3": 0.0, "vIoU@0.5": 0.0, "m_sIoU": 0.0, "n": 0}


def test_aggregate_rounds_percent_to_two_decimals() -> None:
    scores = [QueryScore(1 / 3, 1 / 9, 1 / 3, 10), QueryScore(1.0, 0.31, 1.0, 10)]
    assert aggregate(scores, thresholds=(0.3,)) == {
        "m_tIoU": 66.67,
        "m_vIoU": 21.06,
        "vIoU@0.3": 50.0,
        "m_sIoU": 66.67,
        "n": 2,
    }
