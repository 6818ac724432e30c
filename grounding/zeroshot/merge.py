"""GranAlign's Step E, first part: high-scoring frames merged into one proposal when the gap
between them is at most ``tau``. As in VTG-GPT (``moment - last <= gap`` clips), a frame joins
the current proposal when it starts at most ``gap`` seconds after the proposal's last high frame
(6 clips = 12 s on QVHighlights); the low frames in between become part of the proposal's span
but not of its mean score."""

from __future__ import annotations

import numpy as np

TOLERANCE = 1e-6  # seconds: float error in frame times must not split a proposal


def merge_frames(frames: np.ndarray, starts: np.ndarray, gap: float) -> list[np.ndarray]:
    """Groups (each an array of frame indices, in order) of the sorted high ``frames``, given the
    frames' start times ``starts`` (all frames of the grid) and the largest gap in seconds."""
    frames = np.asarray(frames, dtype=np.int64)
    if not frames.size:
        return []
    breaks = np.nonzero(np.diff(np.asarray(starts)[frames]) > gap + TOLERANCE)[0] + 1
    return np.split(frames, breaks)
