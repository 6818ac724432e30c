from __future__ import annotations

import numpy as np
import pytest

from grounding.data.targets import TargetConfig, make_targets, moment_mask, snippet_span


def ones_at(length: int, idx: list[int]) -> list[float]:
    out = np.zeros(length, np.float32)
    out[idx] = 1.0
    return out.tolist()


def test_snippet_span_quantises_to_covering_snippets() -> None:
    # 10 s in 10 snippets: snippet i covers [i, i+1)
    assert snippet_span((2.0, 5.0), 10.0, 10) == (2, 4)
    assert snippet_span((2.5, 5.2), 10.0, 10) == (2, 5)
    assert snippet_span((0.0, 10.0), 10.0, 10) == (0, 9)
    assert snippet_span((9.5, 12.0), 10.0, 10) == (9, 9)  # end past the duration -> last snippet
    assert snippet_span((3.0, 3.0), 10.0, 10) == (3, 3)  # zero length -> one snippet


def test_moment_mask_covers_every_window() -> None:
    mask = moment_mask([(0.0, 2.0), (6.0, 8.0)], duration=10.0, length=10)
    assert mask.dtype == np.float32 and mask.tolist() == [1, 1, 0, 0, 0, 0, 1, 1, 0, 0]


def test_one_hot_labels_with_radius_zero() -> None:
    t = make_targets([(2.0, 5.0)], 10.0, 10, TargetConfig(radius=0))
    assert t["start_label"].tolist() == ones_at(10, [2])
    assert t["end_label"].tolist() == ones_at(10, [4])
    assert t["highlight_label"].tolist() == ones_at(10, [2, 3, 4])
    assert all(v.dtype == np.float32 and v.shape == (10,) for v in t.values())


def test_default_neighbourhood_of_one_and_foreground_of_eq16() -> None:
    t = make_targets([(2.0, 6.0)], 10.0, 10)  # snippets 2..5
    assert t["start_label"].tolist() == ones_at(10, [1, 2, 3])
    assert t["end_label"].tolist() == ones_at(10, [4, 5, 6])
    # y_i = 1[min(tau_s) <= i <= max(tau_e)]
    assert t["highlight_label"].tolist() == ones_at(10, [1, 2, 3, 4, 5, 6])


def test_neighbourhood_is_clipped_at_the_edges_and_never_crosses_the_other_boundary() -> None:
    t = make_targets([(0.0, 1.0)], 5.0, 5, TargetConfig(radius=2))  # snippet 0 only
    assert t["start_label"].tolist() == ones_at(5, [0])
    assert t["end_label"].tolist() == ones_at(5, [0, 1, 2])
    t = make_targets([(4.0, 5.0)], 5.0, 5, TargetConfig(radius=2))  # snippet 4 only
    assert t["start_label"].tolist() == ones_at(5, [2, 3, 4])
    assert t["end_label"].tolist() == ones_at(5, [4])


def test_elastic_candidates_grow_with_the_moment() -> None:
    cfg = TargetConfig(mode="elastic", iou_threshold=0.8)
    # short moment, snippets 4..5 (2 long): moving a boundary by one gives IoU 2/3 or 1/2 < 0.8
    t = make_targets([(4.0, 6.0)], 20.0, 20, cfg)
    assert t["start_label"].tolist() == ones_at(20, [4])
    assert t["end_label"].tolist() == ones_at(20, [5])
    # long moment, snippets 5..14 (10 long): start 3 -> IoU 10/12 = .83, start 7 -> 8/10 = .8
    t = make_targets([(5.0, 15.0)], 20.0, 20, cfg)
    assert t["start_label"].tolist() == ones_at(20, [3, 4, 5, 6, 7])
    assert t["end_label"].tolist() == ones_at(20, [12, 13, 14, 15, 16])
    assert t["highlight_label"].tolist() == ones_at(20, list(range(3, 17)))


def test_other_windows_only_add_foreground() -> None:
    t = make_targets([(1.0, 2.0), (6.0, 8.0)], 10.0, 10, TargetConfig(radius=0))
    assert t["start_label"].tolist() == ones_at(10, [1])
    assert t["end_label"].tolist() == ones_at(10, [1])
    assert t["highlight_label"].tolist() == ones_at(10, [1, 6, 7])


@pytest.mark.parametrize(
    ("windows", "duration", "length", "match"),
    [([(5.0, 2.0)], 10.0, 10, r"\[5.0, 2.0\]"), ([], 10.0, 10, "empty"), ([(1.0, 2.0)], 0.0, 10, "duration=0.0"),
     ([(1.0, float("nan"))], 10.0, 10, "finite"), ([(1.0, 2.0)], 10.0, 0, "length=0")],
)
def test_bad_inputs_are_errors_naming_the_problem(windows, duration, length, match) -> None:
    with pytest.raises(ValueError, match=match):
        make_targets(windows, duration, length)


def test_config_rejects_unknown_mode_and_fields() -> None:
    with pytest.raises(ValueError, match="neighbourhood"):
        TargetConfig(mode="soft")
    with pytest.raises(ValueError, match="radius_s"):
        TargetConfig(radius_s=2)
