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
    norm = np.linalg.norm(x, axis=-1, keepdims=True)
    return np.divide(x, norm, out=np.zeros_like(x), where=norm > 0)


def minmax_rows(values: np.ndarray, valid: np.ndarray | None = None, eps: float = EPS) -> np.ndarray:
    """Each row of ``values`` (R, L) scaled to [0, 1] over its ``valid`` entries (all when None):
    ``(v - min) / (max - min)``. A row whose valid entries span less than ``eps`` (a constant
    curve, or a single valid frame) becomes all 0; invalid entries are 0."""
    v = np.atleast_2d(np.asarray(values, dtype=np.float64))
    mask = np.ones(v.shape, dtype=bool) if valid is None else np.broadcast_to(np.asarray(valid, dtype=bool), v.shape)
    lo = np.where(mask, v, np.inf).min(axis=1, keepdims=True)
    hi = np.where(mask, v, -np.inf).max(axis=1, keepdims=True)
    span = hi - lo
    ok = np.isfinite(span) & (span >= eps)
    scaled = np.divide(v - lo, span, out=np.zeros_like(v), where=ok & mask)
    return np.where(mask & ok, scaled, 0.0)
