"""The spatio-temporal fields (source ``stvg``) of a test item, consistent with its video and
window: a few grid frames over the video with their times and ids, 2 x 2 patch grids, GT boxes
and presence on the frames inside the window, the frame size and the segment (the whole video).
``make_items`` (``batches.py``) adds them to every item, so every model test sees them."""

from __future__ import annotations

from typing import Any

import numpy as np

DP = 7  # patch width of the tiny test batches (``tiny_config(patch_dim=...)``)
PATCHES = 4  # a 2 x 2 grid


def stvg_fields(rng: np.random.Generator, n: int, i: int, window: tuple[float, float]) -> dict[str, Any]:
    """Fields for item ``i`` of a video of ``n`` seconds with GT ``window`` (seconds)."""
    frames = 3 + i  # differs per item: padding is exercised
    times = np.linspace(0.0, n, frames, endpoint=False).astype(np.float32)
    inside = (times >= window[0]) & (times < window[1])
    if not inside.any():
        inside[int(np.argmin(np.abs(times - window[0])))] = True
    lo = rng.uniform(0.0, 0.5, size=(frames, 2))
    boxes = np.concatenate([lo, lo + rng.uniform(0.1, 0.5, size=(frames, 2))], axis=1).astype(np.float32)
    return {
        "frame_patches": rng.normal(size=(frames, PATCHES, DP)).astype(np.float32),
        "frame_times": times,
        "frame_ids": (np.arange(frames) * 5).astype(np.int64),
        "frame_boxes": boxes * inside[:, None],
        "frame_presence": inside.astype(np.float32),
        "frame_size": np.array([64.0, 48.0], np.float32),
        "query_segment": np.array([0.0, float(n)], np.float32),
    }
