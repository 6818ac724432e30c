"""The frame grid of a video: its query-agnostic captions in time order, each owning an interval
of the video. Narratives are point captions (``t_start == t_end``, one frame every ``interval``
seconds): frame ``i`` then covers ``[t_i, t_i + step)`` where ``step`` is the grid's spacing (the
median gap between frames, so a missing frame does not stretch its neighbours), the last one
ending at the duration. Window captions (clip captions) keep their own ``[start, end]``.

Query-aware captions belong to key frames: each is placed on the grid frame whose time is
nearest to its own (they were written for frames of the same grid)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class FrameGrid:
    """``vectors`` (L, D) of the query-agnostic captions and the interval ``[starts, ends]`` (s)
    each frame covers, in time order."""

    vectors: np.ndarray
    starts: np.ndarray
    ends: np.ndarray

    def __len__(self) -> int:
        return len(self.starts)


def frame_grid(vectors: np.ndarray, spans: np.ndarray, duration: float) -> FrameGrid:
    """A grid from caption vectors (L, D) and their spans (L, 2) in seconds (any order)."""
    spans = np.asarray(spans, dtype=np.float64).reshape(-1, 2)
    order = np.argsort(spans[:, 0], kind="stable")
    spans, vectors = spans[order], np.asarray(vectors)[order]
    starts = spans[:, 0]
    gaps = np.diff(starts)
    gaps = gaps[gaps > 0]
    first = float(starts[0]) if starts.size else 0.0
    step = float(np.median(gaps)) if gaps.size else max(float(duration) - first, 0.0)
    ends = np.where(spans[:, 1] > starts, spans[:, 1], starts + step)
    ends = np.minimum(ends, max(float(duration), float(starts.max()) if starts.size else 0.0))
    return FrameGrid(vectors, starts, np.maximum(ends, starts))


def place_on_grid(times: np.ndarray, grid: FrameGrid) -> np.ndarray:
    """Index of the grid frame nearest to each time (K,) -> (K,) int."""
    times = np.asarray(times, dtype=np.float64).reshape(-1)
    if not len(grid) or not times.size:
        return np.zeros(times.shape, dtype=np.int64)
    pos = np.clip(np.searchsorted(grid.starts, times), 1, len(grid) - 1) if len(grid) > 1 else np.zeros(times.size, int)
    if len(grid) == 1:
        return pos.astype(np.int64)
    left = pos - 1
    nearer_left = np.abs(times - grid.starts[left]) <= np.abs(grid.starts[pos] - times)
    return np.where(nearer_left, left, pos).astype(np.int64)
