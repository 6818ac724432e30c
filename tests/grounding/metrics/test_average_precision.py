"""Detection AP (moment retrieval) and ranking AP (highlights) on hand-computed cases."""

from __future__ import annotations

import numpy as np
import pytest

from grounding.metrics.ap import detection_ap, ranking_ap, voc_interpolated_ap


def test_voc_interpolation_hand_computed() -> None:
    # precision [1, 1/2, 2/3] at recall [1/2, 1/2, 1]: 0.5 * 1 + 0.5 * 2/3
    ap = voc_interpolated_ap(np.array([1.0, 0.5, 2 / 3]), np.array([0.5, 0.5, 1.0]))
    assert ap[0] == pytest.approx(0.5 + 1 / 3)


def test_detection_ap_tp_fp_tp() -> None:
    gt = np.array([[0, 10], [20, 30]], dtype=float)
    pred = np.array([[40, 50, 0.8], [20, 30, 0.7], [0, 10, 0.9]])  # score order: TP, FP, TP
    assert detection_ap(pred, gt, [0.5])[0] == pytest.approx(0.5 + 1 / 3)


def test_detection_ap_duplicate_is_false_positive_and_thresholds_differ() -> None:
    gt = np.array([[0, 10]], dtype=float)
    assert detection_ap(np.array([[0, 10, 0.9], [0, 10, 0.8]]), gt, [0.5])[0] == 1.0
    # IoU 0.9: a hit at 0.5, a miss at 0.95; the second (lower-scored) window has IoU 0.96
    ap = detection_ap(np.array([[0, 9, 0.9], [0, 9.6, 0.8]]), gt, [0.5, 0.95])
    np.testing.assert_allclose(ap, [1.0, 0.5])


def test_detection_ap_tied_iou_takes_the_later_gt_first() -> None:
    # pred 1 has IoU 0.6 with both GT windows; the official matching locks the later one, so
    # pred 2 (IoU 1 with the first window only) still matches: AP 1 (it would be 0.5 otherwise).
    gt = np.array([[0, 10], [5, 15]], dtype=float)
    pred = np.array([[2.5, 12.5, 0.9], [0, 10, 0.8]])
    assert detection_ap(pred, gt, [0.5])[0] == 1.0


def test_detection_ap_without_predictions_is_zero() -> None:
    np.testing.assert_array_equal(detection_ap(np.zeros((0, 3)), np.array([[0.0, 1.0]]), [0.5, 0.7]), [0, 0])


def test_ranking_ap_hand_computed() -> None:
    scores = np.array([0.9, 0.8, 0.7, 0.1])
    assert ranking_ap(np.array([1, 0, 1, 0]), scores)[0] == pytest.approx((1 + 2 / 3) / 2)
    # interpolated: FP then TP (P=1/2) then TP (P=2/3): both steps take 2/3
    assert ranking_ap(np.array([0, 1, 1]), np.array([0.9, 0.8, 0.7]))[0] == pytest.approx(2 / 3)
    # tied scores form one threshold
    assert ranking_ap(np.array([1, 0]), np.array([0.5, 0.5]))[0] == pytest.approx(0.5)


def test_ranking_ap_columns_and_constant_labels() -> None:
    labels = np.array([[1, 1, 0], [0, 1, 0], [1, 1, 0]])
    np.testing.assert_allclose(ranking_ap(labels, np.array([0.1, 0.2, 0.3])), [(1 + 2 / 3) / 2, 1.0, 0.0])
