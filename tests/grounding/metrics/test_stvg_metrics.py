"""STVG tIoU / vIoU on hand-computed tubes."""

from __future__ import annotations

import numpy as np
import pytest

from grounding.metrics.stvg import box_iou, stvg_metrics, tube_iou

BOX = [0.0, 0.0, 10.0, 10.0]
SHIFTED = [5.0, 0.0, 15.0, 10.0]  # IoU with BOX: 50 / 150


def test_box_iou_hand_cases() -> None:
    np.testing.assert_allclose(
        box_iou([BOX, BOX, BOX, [1, 1, 1, 5]], [BOX, SHIFTED, [20, 20, 30, 30], [1, 1, 1, 5]]),
        [1.0, 1 / 3, 0.0, 0.0],
    )


def test_tube_iou_hand_computed() -> None:
    gt = {0: BOX, 1: BOX, 2: BOX, 3: BOX}
    pred = {2: BOX, 3: SHIFTED, 4: BOX, 5: BOX}
    t_iou, v_iou = tube_iou(pred, gt)  # S_i = {2, 3}, S_u = {0..5}
    assert t_iou == pytest.approx(2 / 6)
    assert v_iou == pytest.approx((1 + 1 / 3) / 6)
    assert tube_iou({}, gt) == (0.0, 0.0)
    assert tube_iou({}, {}) == (0.0, 0.0)


def test_stvg_metrics_hand_computed() -> None:
    gt = {0: BOX, 1: BOX, 2: BOX, 3: BOX}
    pred = {2: BOX, 3: SHIFTED, 4: BOX, 5: BOX}
    out = stvg_metrics([pred, gt], [gt, gt])
    assert out == {"m_tIoU": 66.67, "m_vIoU": 61.11, "vIoU@0.3": 50.0, "vIoU@0.5": 50.0, "n": 2}


def test_stvg_metrics_length_mismatch() -> None:
    with pytest.raises(ValueError, match="1 predicted tubes for 2"):
        stvg_metrics([{}], [{}, {}])
