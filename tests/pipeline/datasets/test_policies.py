"""The shared defect policies, rule by rule, and their order."""

from __future__ import annotations

import pytest

from pipeline.datasets import policies as P


@pytest.mark.parametrize(
    ("window", "duration", "expected", "rules"),
    [
        ((1.0, 5.0), 10.0, (1.0, 5.0), []),
        ((5.0, 1.0), 10.0, (1.0, 5.0), [P.SWAPPED_REVERSED]),
        ((-1.0, 5.0), 10.0, (0.0, 5.0), [P.CLAMPED_START_TO_ZERO]),
        ((1.0, 12.0), 10.0, (1.0, 10.0), [P.CLAMPED_END_TO_DURATION]),
        ((10.0, 12.0), 10.0, None, [P.CLAMPED_END_TO_DURATION, P.DROPPED_START_PAST_DURATION]),
        ((3.0, 3.0), 10.0, None, [P.DROPPED_ZERO_LENGTH]),
        # Charades-STA "LEOL6 8.0 7.0", duration 6.25: swapped, then its end clamped, then dropped
        ((8.0, 7.0), 6.25, None, [P.SWAPPED_REVERSED, P.CLAMPED_END_TO_DURATION, P.DROPPED_START_PAST_DURATION]),
        # reversed, with only the written start past the duration: after the swap it is a valid end
        ((12.0, 2.0), 10.0, (2.0, 10.0), [P.SWAPPED_REVERSED, P.CLAMPED_END_TO_DURATION]),
    ],
)
def test_clean_window(window, duration, expected, rules) -> None:
    assert P.clean_window(*window, duration) == (expected, rules)


def test_clean_text() -> None:
    assert P.clean_text(" a person sits. ") == ("a person sits.", {P.STRIPPED_WHITESPACE})
    assert P.clean_text("a person sits.") == ("a person sits.", set())
    assert P.clean_text("  \t") == (None, {P.STRIPPED_WHITESPACE, P.DROPPED_EMPTY_QUERY})
    assert P.clean_text("") == (None, {P.DROPPED_EMPTY_QUERY})


@pytest.mark.parametrize(
    ("raw", "value"),
    [
        (30.5, 30.5),
        ("24.83", 24.83),
        (None, None),
        ("", None),
        (0, None),
        (-3, None),
        (True, None),
        (float("nan"), None),
    ],
)
def test_usable_duration(raw, value) -> None:
    assert P.usable_duration(raw) == value


def test_parse_windows_names_the_source() -> None:
    assert P.parse_windows([[1, 2], [3, 4.5]], "f:1") == [(1.0, 2.0), (3.0, 4.5)]
    assert P.parse_windows([1, 2], "f:1") == [(1.0, 2.0)]
    with pytest.raises(ValueError, match=r"f:7: a window must be \[start, end\]"):
        P.parse_windows([[1, 2, 3]], "f:7")
    with pytest.raises(ValueError, match="f:8: windows must be a list"):
        P.parse_windows("1 2", "f:8")


@pytest.mark.parametrize(
    "window",
    [(float("nan"), 2.0), (float("nan"), float("nan")), (1.0, float("inf")), (-float("inf"), 2.0), (float("inf"), 1.0)],
)
def test_non_finite_window_is_dropped_before_any_other_rule(window) -> None:
    """Regression: NaN compared false everywhere, so [NaN, 2] passed all five rules unchanged."""
    assert P.clean_window(*window, 10.0) == (None, [P.DROPPED_NON_FINITE_WINDOW])


@pytest.mark.parametrize(
    ("raw", "value", "rule"),
    [
        (30.5, 30.5, None),
        ("24.83", 24.83, None),
        (None, None, P.DROPPED_UNKNOWN_VIDEO),
        ("abc", None, P.DROPPED_UNKNOWN_VIDEO),
        (0, None, P.DROPPED_UNKNOWN_VIDEO),
        ([3], None, P.DROPPED_UNKNOWN_VIDEO),
        (float("nan"), None, P.DROPPED_NON_FINITE_DURATION),
        ("inf", None, P.DROPPED_NON_FINITE_DURATION),
        (10**400, None, P.DROPPED_NON_FINITE_DURATION),
        (-float("inf"), None, P.DROPPED_NON_FINITE_DURATION),
    ],
)
def test_duration_rule(raw, value, rule) -> None:
    """Regression: a 400-digit integer duration raised OverflowError; NaN counted as an unknown video."""
    assert P.duration_rule(raw) == (value, rule)


def test_finite_extra_removes_saliency_as_a_pair_and_other_fields_alone() -> None:
    good = {"relevant_clip_ids": [0], "saliency_scores": [[1, 2, 3]], "segment": [0.0, 1.0], "type": "person"}
    assert P.finite_extra(good) == (good, set())
    bad_saliency = {**good, "saliency_scores": [[1, float("nan"), 3]]}
    assert P.finite_extra(bad_saliency) == ({"segment": [0.0, 1.0], "type": "person"}, {P.REMOVED_NON_FINITE_SALIENCY})
    bad_segment = {**good, "segment": [0.0, float("inf")], "relation": {"begin_fid": 10**400}}
    kept = {"relevant_clip_ids": [0], "saliency_scores": [[1, 2, 3]], "type": "person"}
    assert P.finite_extra(bad_segment) == (kept, {P.REMOVED_NON_FINITE_EXTRA})


def test_parse_windows_keeps_huge_integers_as_infinite() -> None:
    """Regression: ``float(10**400)`` raised OverflowError (not a ValueError naming the line)."""
    assert P.parse_windows([[1, 10**400]], "f:1") == [(1.0, float("inf"))]


@pytest.mark.parametrize(
    ("window", "rules"),
    [
        ((-3.0, -1.0), [P.CLAMPED_START_TO_ZERO, P.DROPPED_END_BEFORE_ZERO]),
        ((-1.0, -3.0), [P.SWAPPED_REVERSED, P.CLAMPED_START_TO_ZERO, P.DROPPED_END_BEFORE_ZERO]),
    ],
)
def test_window_wholly_before_the_video_is_dropped(window, rules) -> None:
    """Regression (found by the fuzz test): [-1, -1] became (0, -1), a window ending before it starts."""
    assert P.clean_window(*window, 10.0) == (None, rules)
