"""What the data pipeline appends to each video snippet after pooling, before any model sees it.

Two options of ``DataConfig``, recorded in every checkpoint so evaluation and prediction read a
video as training did:

- ``temporal_endpoints``: the 2-d feature (i / n, (i + 1) / n) of snippet i of n (Moment-DETR /
  QD-DETR / MESM's ``tef``);
- ``temporal_differences`` = s > 0: the changes into and out of each snippet,
  s * (x_i - x_{i-1}) and s * (x_{i+1} - x_i), zero at the video's first and last snippet, where
  x is everything before them (the features, and the endpoints when on). A snippet's features say
  what is on screen; these say what is changing, which a per-snippet input projection cannot
  compute. On L2-normalised frames consecutive snippets differ by a few hundredths, so s (10 on
  the demo) brings the changes to the scale of the frames. The endpoints' change is the same
  1 / n at every inner snippet: the video's length, which a model predicting normalised
  (centre, width) needs to size a moment that lasts a few seconds (on the demo, leaving it out
  cost the DETRs most of what the differences gave).

Order: x = [store features, endpoints], then [x, changes into x, changes out of x], so a model's
``video_dim`` is ``width(store width)``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from groundwork.errors import InputError

TEF_DIM = 2  # width of the temporal endpoint feature


def temporal_endpoints(n: int) -> np.ndarray:
    """(n, 2) float32: (i / n, (i + 1) / n) for each of n snippets."""
    i = np.arange(n, dtype=np.float32)
    return np.stack([i / n, (i + 1) / n], axis=1) if n else np.zeros((0, TEF_DIM), np.float32)


def temporal_differences(x: np.ndarray, scale: float) -> np.ndarray:
    """(n, D) -> (n, 2D): scale * (x_i - x_{i-1}) and scale * (x_{i+1} - x_i), 0 at the ends."""
    step = np.diff(x, axis=0) * scale
    zero = np.zeros((min(1, x.shape[0]), x.shape[1]), x.dtype)
    into = np.concatenate([zero, step], axis=0)[: x.shape[0]]
    out_of = np.concatenate([step, zero], axis=0)[: x.shape[0]]
    return np.concatenate([into, out_of], axis=1).astype(x.dtype, copy=False)


@dataclass(frozen=True)
class SnippetExtras:
    endpoints: bool = False
    differences: float = 0.0

    @classmethod
    def from_data(cls, data: Mapping[str, Any] | Any) -> SnippetExtras:
        """From a ``DataConfig`` or the ``data`` dict a checkpoint records (a key it lacks is off:
        checkpoints written before an option existed read as they were trained)."""
        get = data.get if isinstance(data, Mapping) else lambda k, d: getattr(data, k, d)
        return cls(bool(get("temporal_endpoints", False)), float(get("temporal_differences", 0.0) or 0.0))

    def width(self, store_width: int) -> int:
        """The video width a model sees for a store of ``store_width``."""
        return (store_width + (TEF_DIM if self.endpoints else 0)) * (3 if self.differences else 1)

    def store_width(self, video_dim: int) -> int:
        """The store width that gives a model's ``video_dim`` (inverse of ``width``)."""
        base = video_dim // 3 if self.differences else video_dim
        store = base - (TEF_DIM if self.endpoints else 0)
        if store < 1 or (self.differences and video_dim % 3):
            msg = (
                f"video_dim {video_dim} cannot come from a feature store with {self}: the model was "
                "trained with other data options (data.temporal_endpoints / data.temporal_differences)"
            )
            raise InputError(msg)
        return store

    def __call__(self, pooled: np.ndarray) -> np.ndarray:
        """(n, D) pooled snippets -> (n, width(D))."""
        x = pooled
        if self.endpoints:
            x = np.concatenate([x, temporal_endpoints(x.shape[0]).astype(x.dtype)], axis=1)
        if self.differences:
            x = np.concatenate([x, temporal_differences(x, self.differences)], axis=1)
        return x


__all__ = ["TEF_DIM", "SnippetExtras", "temporal_differences", "temporal_endpoints"]
