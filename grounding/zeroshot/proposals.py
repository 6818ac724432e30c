"""Moment proposals from score curves on a frame grid, in the order of GranAlign's Steps E-F and
of its lineage's code (VTG-GPT): the dynamic threshold picks the high frames (``threshold``), high
frames within ``gap`` seconds merge into proposals (``merge``), the bottom ``drop_fraction`` of
proposals by mean score go (``filter``), the rest are scored ``(1 - lambda) * mean + lambda *
normalised length`` (``scoring``), and NMS ranks them (``nms``). A proposal spans from its first
high frame's start to its last high frame's end, in seconds.

``rank_windows`` takes one curve (the fused ``S_f``) or several: with ``per_curve_union`` the
model passes the fused curve plus each normalised rewrite curve, and the proposals of all of
them are pooled before NMS, as VTG-GPT pools the proposals of every query variant."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from grounding.zeroshot.filter import keep_top_means
from grounding.zeroshot.grid import FrameGrid
from grounding.zeroshot.merge import group_starts
from grounding.zeroshot.nms import nms
from grounding.zeroshot.scoring import proposal_scores
from grounding.zeroshot.threshold import high_frames, histogram_threshold, top_k_for


@dataclass(frozen=True)
class ProposalSettings:
    """Every parameter of the proposal steps (``grounding.models.granalign.GranAlignConfig``
    documents each and its source)."""

    bins: int = 10
    top_k: int | None = None
    top_fraction: float = 0.1
    gap: float = 12.0
    drop_fraction: float = 0.2
    length_weight: float = 0.3
    nms_iou: float = 0.7
    max_windows: int = 10


@dataclass(frozen=True)
class Proposals:
    """``windows`` (P, 2) in seconds with their ``scores`` (P,), ``means`` and high-frame ``sizes``."""

    windows: np.ndarray
    scores: np.ndarray
    means: np.ndarray
    sizes: np.ndarray


def curve_proposals(curve: np.ndarray, grid: FrameGrid, settings: ProposalSettings) -> Proposals:
    """Threshold, merge, filter and score the proposals of one curve (L,) on ``grid``."""
    top_k = top_k_for(len(curve), settings.top_k, settings.top_fraction)
    frames = high_frames(curve, histogram_threshold(curve, settings.bins, top_k))
    first = group_starts(frames, grid.starts, settings.gap)
    sizes = np.diff(np.append(first, len(frames))).astype(np.float64)
    means = np.add.reduceat(curve[frames], first) / sizes
    kept = keep_top_means(means, settings.drop_fraction)
    last = first + sizes.astype(np.int64) - 1
    windows = np.array(
        [
            [grid.starts[frames[a]], grid.ends[frames[a] : frames[b] + 1].max()]
            for a, b in zip(first[kept], last[kept], strict=True)
        ]
    ).reshape(-1, 2)
    return Proposals(
        windows, proposal_scores(means[kept], sizes[kept], settings.length_weight), means[kept], sizes[kept]
    )


def rank_windows(
    curves: Sequence[np.ndarray], grid: FrameGrid, settings: ProposalSettings, k: int | None = None
) -> list[list[float]]:
    """``[start, end, score]`` windows (best first, at most ``min(k, max_windows)``) from the pooled
    proposals of ``curves``, after NMS at ``settings.nms_iou``."""
    found = [curve_proposals(np.asarray(c, dtype=np.float64), grid, settings) for c in curves]
    windows = np.concatenate([p.windows for p in found])
    scores = np.concatenate([p.scores for p in found])
    limit = settings.max_windows if k is None else min(k, settings.max_windows)
    keep = nms(windows, scores, settings.nms_iou, limit)
    return [[round(float(windows[i, 0]), 4), round(float(windows[i, 1]), 4), round(float(scores[i]), 6)] for i in keep]
