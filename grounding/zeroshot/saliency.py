"""A curve on a frame grid as one score per clip of the dataset's clip grid (QVHighlights'
``pred_saliency_scores``: one per 2 s clip): the overlap-weighted mean of the frames whose
intervals cover each clip; a clip no frame covers scores 0. (``grounding.models.base.clip_scores``
does the same for snippets that split the video evenly; a caption grid need not.)"""

from __future__ import annotations

import math

import numpy as np


def on_clip_grid(
    values: np.ndarray, starts: np.ndarray, ends: np.ndarray, duration: float, clip_len: float = 2.0
) -> list[float]:
    """``values`` (L,) of frames covering ``[starts, ends)`` -> ``ceil(duration / clip_len)`` scores."""
    n_clips = max(1, math.ceil(round(duration / clip_len, 6)))
    lo = np.arange(n_clips) * clip_len
    hi = np.minimum(lo + clip_len, duration)
    starts, ends = np.asarray(starts)[None], np.asarray(ends)[None]
    overlap = np.clip(np.minimum(hi[:, None], ends) - np.maximum(lo[:, None], starts), 0.0, None)
    total = overlap.sum(axis=1)
    mean = np.divide(overlap @ np.asarray(values, dtype=np.float64), total, out=np.zeros(n_clips), where=total > 0)
    return np.round(mean, 4).tolist()
