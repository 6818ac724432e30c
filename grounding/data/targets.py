"""Training targets of TEA Section 3.5 for one query: the candidate start / end snippet sets of
Eq. (15) and the foreground labels of Eq. (16).

Snippet i of a video of ``duration`` seconds resampled to ``length`` snippets covers
[i * duration / length, (i + 1) * duration / length). A window (s, e) maps to the snippets
s_idx = floor(s / step) and e_idx = ceil(e / step) - 1 (both clipped into [0, length - 1],
e_idx >= s_idx): times are quantised, never changed.

Candidate sets (the labels are multi-hot, 1.0 on the set):
- ``neighbourhood`` (default): the boundary snippet and its ``radius`` neighbours on each side,
  never crossing the other boundary. ``radius=0`` is VSLNet's one-hot label.
- ``elastic``: EMB-style elastic boundaries (Huang et al., ECCV 2022). A start candidate is any
  i <= e_idx with IoU([i, e_idx], [s_idx, e_idx]) >= ``iou_threshold`` (snippet units), an end
  candidate any j >= s_idx with IoU([s_idx, j], [s_idx, e_idx]) >= ``iou_threshold``: the set
  grows with the moment's length, as boundary uncertainty does. EMB picks among such candidates
  with an auxiliary proposal ranker during training; here the set is fixed and Eq. (15)'s
  -log sum p lets the model place the mass inside it.

Foreground (Eq. 16): y_i = 1[min(tau_s) <= i <= max(tau_e)] for the first window, plus every
snippet of the other windows. Only the first window decides start / end (span predictors output
one moment); the data layer orders the windows.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from grounding.metrics.temporal import iou


class TargetConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    mode: Literal["neighbourhood", "elastic"] = Field("neighbourhood", description="start / end candidate sets "
                                                      "of Eq. (15) (span models)")
    radius: int = Field(1, ge=0, description="neighbourhood: snippets on each side of a boundary")
    iou_threshold: float = Field(0.8, gt=0.0, le=1.0, description="elastic: minimum IoU of a candidate")


def snippet_span(window: tuple[float, float], duration: float, length: int) -> tuple[int, int]:
    """Snippet indices (s_idx, e_idx), inclusive, of a window in seconds."""
    step = duration / length
    s_idx = min(max(math.floor(window[0] / step), 0), length - 1)
    e_idx = min(max(math.ceil(window[1] / step) - 1, s_idx), length - 1)
    return s_idx, e_idx


def moment_mask(windows: Sequence[tuple[float, float]], duration: float, length: int) -> np.ndarray:
    """(length,) float32: 1 on the snippets of every window (``snippet_span``), else 0."""
    mask = np.zeros(length, np.float32)
    for w in windows:
        s, e = snippet_span(tuple(w), duration, length)
        mask[s : e + 1] = 1.0
    return mask


def _iou(a: tuple[int, int], b: tuple[int, int]) -> float:
    """IoU of inclusive snippet spans: snippets [s, e] cover the interval [s, e + 1)."""
    return float(iou((a[0], a[1] + 1), (b[0], b[1] + 1)))


def _neighbourhood(s: int, e: int, length: int, cfg: TargetConfig) -> tuple[list[int], list[int]]:
    starts = list(range(max(s - cfg.radius, 0), min(s + cfg.radius, e) + 1))
    ends = list(range(max(e - cfg.radius, s), min(e + cfg.radius, length - 1) + 1))
    return starts, ends


def _elastic(s: int, e: int, length: int, cfg: TargetConfig) -> tuple[list[int], list[int]]:
    starts = [i for i in range(0, e + 1) if _iou((i, e), (s, e)) >= cfg.iou_threshold - 1e-9]
    ends = [j for j in range(s, length) if _iou((s, j), (s, e)) >= cfg.iou_threshold - 1e-9]
    return starts, ends


CANDIDATE_SETS: dict[str, Callable[[int, int, int, TargetConfig], tuple[list[int], list[int]]]] = {
    "neighbourhood": _neighbourhood,
    "elastic": _elastic,
}


def make_targets(
    windows: Sequence[tuple[float, float]],
    duration: float,
    length: int,
    config: TargetConfig | None = None,
) -> dict[str, np.ndarray]:
    """start_label, end_label, highlight_label, each (length,) float32."""
    cfg = config or TargetConfig()
    if length <= 0 or not duration > 0:
        msg = f"make_targets: need length > 0 and duration > 0, got length={length}, duration={duration}"
        raise ValueError(msg)
    if len(windows) == 0:
        msg = "make_targets: windows is empty; a training query needs at least one [start, end] window"
        raise ValueError(msg)
    for w in windows:
        if not (math.isfinite(w[0]) and math.isfinite(w[1]) and w[0] <= w[1]):
            msg = f"make_targets: window {list(w)} is not a finite [start, end] with start <= end"
            raise ValueError(msg)
    s, e = snippet_span(tuple(windows[0]), duration, length)
    starts, ends = CANDIDATE_SETS[cfg.mode](s, e, length, cfg)
    start_label = np.zeros(length, np.float32)
    end_label = np.zeros(length, np.float32)
    highlight = np.zeros(length, np.float32)
    start_label[starts] = 1.0
    end_label[ends] = 1.0
    highlight[min(starts) : max(ends) + 1] = 1.0  # Eq. (16)
    for w in windows[1:]:
        ws, we = snippet_span(tuple(w), duration, length)
        highlight[ws : we + 1] = 1.0
    return {"start_label": start_label, "end_label": end_label, "highlight_label": highlight}


@dataclass(frozen=True)
class SpanTargets:
    """The target maker of span models (``GroundingModel.target_maker``): ``make_targets`` with
    one ``TargetConfig``. Picklable, so DataLoader workers can hold it."""

    config: TargetConfig = field(default_factory=TargetConfig)
    keys: tuple[str, ...] = ("start_label", "end_label", "highlight_label")

    def __call__(self, windows: Sequence[tuple[float, float]], duration: float, length: int) -> dict[str, np.ndarray]:
        return make_targets(windows, duration, length, self.config)
