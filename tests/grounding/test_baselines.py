import numpy as np
import pytest

from grounding.baselines import ConstantSpan


def test_constant_span_finds_the_shared_window():
    # Every training moment is the middle fifth of its video: the fit must recover it.
    durations = [10.0, 20.0, 40.0]
    windows = [(4.0, 6.0), (8.0, 12.0), (16.0, 24.0)]
    span = ConstantSpan.fit(windows, durations, grid=10)
    assert (span.start, span.end) == pytest.approx((0.4, 0.6))
    assert span.predict(30.0) == [12.0, 18.0, 1.0]


def test_constant_span_trades_off_between_modes():
    # Half the moments at the start, half at the end: the best single window covers both
    # partially, and its mean IoU beats either mode alone.
    windows = [(0.0, 2.0)] * 5 + [(8.0, 10.0)] * 5
    span = ConstantSpan.fit(windows, [10.0] * 10, grid=20)
    assert 0.0 <= span.start < span.end <= 1.0
    g = np.array(windows) / 10.0

    def miou(s, e):
        inter = np.clip(np.minimum(e, g[:, 1]) - np.maximum(s, g[:, 0]), 0, None)
        return float((inter / (np.maximum(e, g[:, 1]) - np.minimum(s, g[:, 0]))).mean())

    assert miou(span.start, span.end) >= miou(0.0, 0.2) - 1e-9


def test_constant_span_needs_data():
    with pytest.raises(ValueError, match="at least one"):
        ConstantSpan.fit([], [])
