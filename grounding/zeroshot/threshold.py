"""Which frames count as high-scoring: VTG-GPT's dynamic histogram threshold (read from
``infer_qvhighlights.py``; the GranAlign notes leave "high-scoring" undefined and recommend it).

The scores of a curve (in [0, 1]) go into ``bins`` equal bins on [0, 1]. Walking down from the top
bin, the first bin at which the count from the top reaches ``top_k`` frames gives the threshold,
its lower edge; if no bin does, the threshold is 0. Frames strictly above the threshold are high.
On QVHighlights ``top_k`` is 8 of 75 clips; elsewhere the notes scale it to about 10 % of the
frames (``top_k_for``)."""

from __future__ import annotations

import math
from functools import lru_cache

import numpy as np


def top_k_for(n_frames: int, top_k: int | None, fraction: float) -> int:
    """``top_k`` when given, else ``ceil(fraction * n_frames)`` (at least 1)."""
    return int(top_k) if top_k is not None else max(1, math.ceil(round(fraction * n_frames, 9)))


@lru_cache(maxsize=16)
def _edges(bins: int) -> np.ndarray:
    return np.linspace(0.0, 1.0, bins + 1)


def histogram_threshold(scores: np.ndarray, bins: int = 10, top_k: int = 8) -> float:
    """The lower edge of the highest bin at which at least ``top_k`` frames lie in it or above
    (0.0 when even all frames are fewer than ``top_k``). Bins as ``np.histogram(scores, bins,
    range=(0, 1))`` makes them (the last bin holds 1.0), counted without its per-call set-up."""
    edges = _edges(bins)
    index = np.minimum(np.searchsorted(edges, np.clip(scores, 0.0, 1.0), side="right") - 1, bins - 1)
    from_top = np.cumsum(np.bincount(index, minlength=bins)[::-1])
    reached = np.nonzero(from_top >= top_k)[0]
    return float(edges[bins - 1 - reached[0]]) if reached.size else 0.0


def high_frames(scores: np.ndarray, threshold: float) -> np.ndarray:
    """Indices of the frames scoring strictly above ``threshold``, in order. When none does (a
    flat curve: every frame at 0 after normalisation), the frames at the curve's maximum: a flat
    curve gives the whole video rather than nothing (VTG-GPT would fail there)."""
    scores = np.asarray(scores)
    above = np.nonzero(scores > threshold)[0]
    return above if above.size else np.nonzero(scores >= scores.max())[0]
