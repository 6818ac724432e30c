"""``g``'s normalisation and the frame grid, on hand-made numbers."""

from __future__ import annotations

import numpy as np
import pytest

from grounding.zeroshot.grid import frame_grid, place_on_grid
from grounding.zeroshot.normalise import minmax_rows, unit_rows


def test_minmax_scales_each_row_over_its_valid_frames() -> None:
    got = minmax_rows(np.array([[1.0, 3.0, 2.0], [5.0, 1.0, 3.0]]))
    assert got.tolist() == [[0.0, 1.0, 0.5], [1.0, 0.0, 0.5]]
    masked = minmax_rows(np.array([[5.0, 1.0, 3.0, 9.0]]), valid=np.array([True, True, True, False]))
    assert masked.tolist() == [[1.0, 0.0, 0.5, 0.0]]  # the invalid 9 neither counts nor survives


def test_a_constant_curve_normalises_to_zero_not_nan() -> None:
    got = minmax_rows(np.array([[0.42, 0.42, 0.42], [0.1, 0.1 + 1e-9, 0.1]]))
    assert got.tolist() == [[0.0, 0.0, 0.0], [0.0, 0.0, 0.0]]
    single = minmax_rows(np.array([[0.7, 0.2]]), valid=np.array([True, False]))  # one valid frame is constant too
    assert single.tolist() == [[0.0, 0.0]]


def test_unit_rows_keeps_a_zero_row_zero() -> None:
    got = unit_rows(np.array([[3.0, 4.0], [0.0, 0.0]]))
    assert got.tolist() == [[pytest.approx(0.6), pytest.approx(0.8)], [0.0, 0.0]]


def test_point_captions_cover_the_median_step_and_the_last_ends_at_the_duration() -> None:
    spans = np.array([[8.0, 8.0], [0.0, 0.0], [2.0, 2.0], [4.0, 4.0]])  # out of order; the 6 s frame is missing
    vectors = np.arange(4)[:, None] * np.ones((1, 3))
    grid = frame_grid(vectors, spans, duration=9.0)
    assert grid.starts.tolist() == [0.0, 2.0, 4.0, 8.0]
    assert grid.ends.tolist() == [2.0, 4.0, 6.0, 9.0]  # step 2 (median), 8 + 2 cut at 9
    assert grid.vectors[:, 0].tolist() == [1.0, 2.0, 3.0, 0.0]  # vectors follow their spans
    assert place_on_grid(np.array([2.1, 7.5, 0.0, 5.0, 6.0]), grid).tolist() == [1, 3, 0, 2, 2]  # 6.0: a tie goes left


def test_window_captions_keep_their_own_spans() -> None:
    grid = frame_grid(np.zeros((2, 2)), np.array([[0.0, 4.0], [4.0, 7.5]]), duration=7.5)
    assert (grid.starts.tolist(), grid.ends.tolist()) == ([0.0, 4.0], [4.0, 7.5])
    one = frame_grid(np.zeros((1, 2)), np.array([[0.0, 0.0]]), duration=5.0)
    assert one.ends.tolist() == [5.0] and place_on_grid(np.array([3.0]), one).tolist() == [0]
