"""The constant-span baseline: the single fixed window, in normalised time, that fits the
training queries best. A grounding model that does not beat it has learned nothing about the
query or the video, only the dataset's moment-position prior."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from grounding.metrics.temporal import iou


@dataclass(frozen=True)
class ConstantSpan:
    """A window [start, end] given as fractions of the video duration."""

    start: float
    end: float

    @classmethod
    def fit(cls, windows: Sequence[tuple[float, float]], durations: Sequence[float], grid: int = 50) -> ConstantSpan:
        """Pick, on a ``grid`` x ``grid`` lattice of normalised windows, the one with the best
        mean IoU against the training windows (first window of each query)."""
        if len(windows) == 0:
            msg = "ConstantSpan.fit needs at least one training window"
            raise ValueError(msg)
        w = np.asarray(windows, dtype=np.float64)
        d = np.asarray(durations, dtype=np.float64)
        gt = w[:, :2] / d[:, None]
        ticks = np.linspace(0.0, 1.0, grid + 1)
        best, best_score = (0.0, 1.0), -1.0
        for i, s in enumerate(ticks[:-1]):
            for e in ticks[i + 1 :]:
                score = float(iou(np.array([s, e]), gt).mean())
                if score > best_score:
                    best, best_score = (float(s), float(e)), score
        return cls(*best)

    def predict(self, duration: float) -> list[float]:
        """One prediction in seconds, as [start, end, score] (community JSONL order)."""
        return [round(self.start * duration, 4), round(self.end * duration, 4), 1.0]
