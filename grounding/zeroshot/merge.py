"""GranAlign's Step E, first part: high-scoring frames merged into one proposal when the gap
between them is at most ``tau``. As in VTG-GPT (``moment - last <= gap`` clips), a frame joins
the current proposal when it starts at most ``gap`` seconds after the proposal's last high frame
(6 clips = 12 s on QVHighlights); the low frames in between become part of the proposal's span
but not of its mean score."""

from __future__ import annotations

import numpy as np

TOLERANCE = 1e-6  # seconds: float error in frame times must not split a proposal


def group_starts(frames: np.ndarray, starts: np.ndarray, gap: float) -> np.ndarray:
    """Positions in the sorted high ``frames`` where a new proposal starts (the first is 0), given
    the frames' start times ``starts`` (all frames of the grid) and the largest gap in seconds."""
    frames = np.asarray(frames, dtype=np.int64)
    if not frames.size:
        return np.zeros(0, dtype=np.int64)
    return np.concatenate([[0], np.nonzero(np.diff(np.asarray(starts)[frames]) > gap + TOLERANCE)[0] + 1])


def merge_frames(frames: np.ndarray, starts: np.ndarray, gap: float) -> list[np.ndarray]:
    """The proposals as groups of frame indices, in order (``group_starts`` split up)."""
    frames = np.asarray(frames, dtype=np.int64)
    return np.split(frames, group_starts(frames, starts, gap)[1:]) if frames.size else []
