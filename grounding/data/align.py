"""TEA Eq. (3): align a video's narratives with its snippets.

A video of ``duration`` seconds cut into ``n_snippets`` equal snippets gives snippet ``k`` the
period ``[k * duration / n, (k + 1) * duration / n)``. The narrative sentence vectors whose
timestamps fall in a snippet's period are mean-pooled into that snippet's paragraph feature
``c_k``; a snippet with no narrative gets a zero vector and ``mask[k] = False``. A timestamp at or
past the end belongs to the last snippet, one before 0 to the first.
"""

from __future__ import annotations

import numpy as np


def snippet_index(times: np.ndarray, n_snippets: int, duration: float) -> np.ndarray:
    """Index of the snippet whose period holds each time (clipped into ``[0, n_snippets)``)."""
    if duration <= 0:
        msg = f"duration must be positive to align narratives, got {duration}"
        raise ValueError(msg)
    idx = np.floor(np.asarray(times, dtype=np.float64) * n_snippets / duration).astype(np.int64)
    return np.clip(idx, 0, n_snippets - 1)


def align_narratives(times: np.ndarray, vectors: np.ndarray, n_snippets: int,
                     duration: float) -> tuple[np.ndarray, np.ndarray]:
    """Eq. (3): ``(n_snippets, D)`` mean of the narratives in each snippet, and the mask of
    snippets that received at least one."""
    vectors = np.asarray(vectors, dtype=np.float32)
    times = np.asarray(times, dtype=np.float64)
    if vectors.ndim != 2 or len(times) != len(vectors):
        msg = f"align_narratives: {len(times)} times for vectors of shape {vectors.shape}"
        raise ValueError(msg)
    dim = vectors.shape[1]
    sums = np.zeros((n_snippets, dim), dtype=np.float64)
    counts = np.zeros(n_snippets, dtype=np.int64)
    if len(times):
        idx = snippet_index(times, n_snippets, duration)
        np.add.at(sums, idx, vectors)
        np.add.at(counts, idx, 1)
    mask = counts > 0
    sums[mask] /= counts[mask, None]
    return sums.astype(np.float32), mask
