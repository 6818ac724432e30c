"""The similarity ``g`` of GranAlign's Step D: cosine similarity between sentence vectors, then a
min-max over the frames of one curve (per rewrite, per video; VTG-GPT normalises the same way).
A constant curve carries no information about where the moment is: it becomes 0, not NaN."""

from __future__ import annotations

import numpy as np

EPS = 1e-6


def unit_rows(x: np.ndarray) -> np.ndarray:
    """Rows of ``x`` (n, D) scaled to unit length (a zero row stays zero), so a matrix product is
    a cosine similarity whatever the encoder returned."""
    x = np.asarray(x, dtype=np.float32)
    norm = np.sqrt(np.einsum("...d,...d->...", x, x))[..., None]
    return x / np.maximum(norm, np.float32(1e-30))  # a zero row: 0 / tiny = 0


def minmax_rows(values: np.ndarray, valid: np.ndarray | None = None, eps: float = EPS) -> np.ndarray:
    """Each row of ``values`` (R, L) scaled to [0, 1] over its ``valid`` entries (all when None):
    ``(v - min) / (max - min)``. A row whose valid entries span less than ``eps`` (a constant
    curve, or a single valid frame) becomes all 0; invalid entries are 0."""
    v = np.atleast_2d(np.asarray(values, dtype=np.float64))
    if valid is None:
        lo, hi = v.min(axis=1, keepdims=True), v.max(axis=1, keepdims=True)
    else:
        mask = np.broadcast_to(np.asarray(valid, dtype=bool), v.shape)
        if not mask.any():
            return np.zeros_like(v)
        lo = np.where(mask, v, np.inf).min(axis=1, keepdims=True)
        hi = np.where(mask, v, -np.inf).max(axis=1, keepdims=True)
    span = hi - lo
    scale = np.where(span >= eps, 1.0 / np.where(span >= eps, span, 1.0), 0.0)  # a constant row: 0
    out = (v - lo) * scale
    return out if valid is None else np.where(mask, out, 0.0)
