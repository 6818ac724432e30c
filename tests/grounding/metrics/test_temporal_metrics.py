"""Temporal IoU, R@k and mIoU on hand-computed cases."""

from __future__ import annotations

import numpy as np
import pytest

from grounding.metrics.temporal import (
    iou,
    iou_matrix,
    miou,
    rank_windows,
    recall_at_iou,
    same_window_share,
    temporal_metrics,
)


def test_iou_hand_cases() -> None:
    pred = np.array([[0, 10], [0, 2], [2, 4], [3, 3], [0, 10]])
    gt = np.array([[5, 15], [3, 5], [0, 10], [3, 3], [0, 10]])
    np.testing.assert_allclose(iou(pred, gt), [5 / 15, 0.0, 0.2, 0.0, 1.0])


def test_iou_matrix_uses_true_union() -> None:
    np.testing.assert_allclose(iou_matrix([[0, 10]], [[5, 15], [0, 5], [20, 30]]), [[1 / 3, 0.5, 0.0]])


def test_rank_windows_sorts_by_score_stably() -> None:
    ranked = rank_windows([[0, 1, 0.1], [2, 3, 0.9], [4, 5, 0.9]])
    np.testing.assert_array_equal(ranked, [[2, 3], [4, 5], [0, 1]])


THREE_QUERIES = (
    [
        [[0, 10, 0.9]],  # IoU 1
        [[0, 6, 0.9], [0, 10, 0.5]],  # top-1 IoU 0.6, top-2 1.0
        [[20, 30, 0.9], [0, 4, 0.8]],  # top-1 IoU 0, top-2 0.4
    ],
    [[[0, 10]], [[0, 10]], [[0, 10]]],
)


def test_recall_and_miou_hand_computed() -> None:
    preds, gts = THREE_QUERIES
    assert recall_at_iou(preds, gts) == {
        "R1@0.3": 66.67,
        "R1@0.5": 66.67,
        "R1@0.7": 33.33,
        "R5@0.3": 100.0,
        "R5@0.5": 66.67,
        "R5@0.7": 66.67,
    }
    assert miou(preds, gts) == 53.33
    assert temporal_metrics(preds, gts)["n"] == 3


def test_unsorted_predictions_are_ranked_by_score() -> None:
    assert recall_at_iou([[[20, 30, 0.1], [0, 10, 0.9]]], [[[0, 10]]], k=(1,)) == {
        "R1@0.3": 100.0,
        "R1@0.5": 100.0,
        "R1@0.7": 100.0,
    }


def test_best_gt_window_counts_and_empty_prediction_misses() -> None:
    preds = [[[20, 30, 1.0]], []]
    gts = [[[0, 10], [20, 30]], [[0, 10]]]
    assert miou(preds, gts) == 50.0
    assert recall_at_iou(preds, gts, thresholds=(0.5,), k=(1,)) == {"R1@0.5": 50.0}


def test_mismatched_lengths_and_bad_shapes_raise() -> None:
    with pytest.raises(ValueError, match="2 prediction lists for 1"):
        miou([[[0, 1, 1]], [[0, 1, 1]]], [[[0, 1]]])
    with pytest.raises(ValueError, match="shape"):
        rank_windows([[0, 1, 2, 3]])


def test_same_window_share_counts_repeated_top1_windows_within_a_video() -> None:
    one = [[[1.0, 6.0, 0.9], [2.0, 9.0, 0.1]]] * 4
    assert same_window_share(one, ["a", "a", "b", "b"]) == 100.0  # a constant: every video repeats
    assert same_window_share(one) == 100.0  # no videos given: all one video
    # the top-1 is the best-scored row, not the first; windows within 0.05 s round together
    preds = [
        [[0.0, 3.0, 0.1], [1.0, 6.0, 0.9]],  # a: (1, 6)
        [[1.04, 5.98, 0.7]],  # a: (1, 6) again: one repeat
        [[4.0, 8.0, 0.5], [1.0, 6.0, 0.4]],  # a: (4, 8)
        [[10.0, 12.0]],  # b: alone with a prediction, so b counts for nothing
        [],  # b: no window, left out
        [[0.0, 1.0]],  # c
        [[0.0, 1.0]],  # c: a repeat
    ]
    videos = ["a", "a", "a", "b", "b", "c", "c"]
    assert same_window_share(preds, videos) == 66.67  # (1 + 1) repeats of (2 + 1) possible
    assert same_window_share([[[0.0, 1.0]], [[1.0, 2.0]], [[2.0, 3.0]]], ["a"] * 3) == 0.0
    assert same_window_share([[], []]) == 0.0 and same_window_share([[[0.0, 1.0]]], ["a"]) == 0.0
