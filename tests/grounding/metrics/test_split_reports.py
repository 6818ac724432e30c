"""Per-split temporal reports."""

from __future__ import annotations

import pytest

from grounding.metrics.splits import split_reports


def test_split_reports_hand_computed_and_ordered() -> None:
    preds = [[[0, 10, 1.0]], [[0, 5, 1.0]], [[20, 30, 1.0]], [[0, 10, 1.0]]]
    gts = [[[0, 10]], [[0, 10]], [[0, 10]], [[0, 10]]]
    labels = ["novel_word", "test_ood", "test_ood", "test_iid"]
    out = split_reports(preds, gts, labels, thresholds=(0.5,), k=(1,))
    assert list(out) == ["test_iid", "test_ood", "novel_word"]
    assert out["test_iid"] == {"R1@0.5": 100.0, "mIoU": 100.0, "n": 1}
    assert out["test_ood"] == {"R1@0.5": 50.0, "mIoU": 25.0, "n": 2}
    assert out["novel_word"]["n"] == 1


def test_split_reports_unknown_labels_keep_first_seen_order() -> None:
    out = split_reports([[], []], [[[0, 1]], [[0, 1]]], ["b", "a"])
    assert list(out) == ["b", "a"]
    assert out["a"]["R1@0.3"] == 0.0


def test_split_reports_length_mismatch() -> None:
    with pytest.raises(ValueError, match="2 predictions, 1 ground truths, 2 labels"):
        split_reports([[], []], [[[0, 1]]], ["a", "b"])
