"""GranAlign's Step E, second part: proposals whose mean score falls in the bottom ``n`` % are
discarded. ``floor(n * P)`` proposals go (the notes: n = 20 %; the paper gives no value), the
lowest means first (the later one on a tie), and at least one proposal always stays."""

from __future__ import annotations

import math

import numpy as np


def keep_top_means(means: np.ndarray, drop_fraction: float) -> np.ndarray:
    """Indices (in their original order) of the proposals kept."""
    means = np.asarray(means, dtype=np.float64)
    n_drop = min(math.floor(round(drop_fraction * len(means), 9)), max(len(means) - 1, 0))
    if n_drop <= 0:
        return np.arange(len(means))
    order = np.lexsort((-np.arange(len(means)), means))  # ascending mean; on a tie the later one first
    return np.sort(order[n_drop:])
