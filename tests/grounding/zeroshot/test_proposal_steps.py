"""Each proposal step on hand-made curves with known answers: the dynamic threshold, the gap
merge, the bottom-n % filter, the proposal score, NMS, the composed proposals and the saliency
on the clip grid."""

from __future__ import annotations

import numpy as np
import pytest

from grounding.zeroshot.filter import keep_top_means
from grounding.zeroshot.grid import frame_grid
from grounding.zeroshot.merge import merge_frames
from grounding.zeroshot.nms import nms
from grounding.zeroshot.proposals import ProposalSettings, curve_proposals, rank_windows
from grounding.zeroshot.saliency import on_clip_grid
from grounding.zeroshot.scoring import proposal_scores
from grounding.zeroshot.threshold import high_frames, histogram_threshold, top_k_for

CURVE = np.array([0.05, 0.15, 0.25, 0.95, 0.91, 0.85, 0.55, 0.52, 0.12, 0.0])


def test_threshold_walks_down_the_histogram_until_top_k_frames() -> None:
    # top bin [0.9, 1]: 0.95, 0.91 (2 frames); [0.8, 0.9): 0.85 -> 3 frames reach top_k = 3
    assert histogram_threshold(CURVE, bins=10, top_k=3) == pytest.approx(0.8)
    assert high_frames(CURVE, 0.8).tolist() == [3, 4, 5]
    # two empty bins, then [0.5, 0.6) brings 5
    assert histogram_threshold(CURVE, bins=10, top_k=5) == pytest.approx(0.5)
    assert high_frames(CURVE, 0.5).tolist() == [3, 4, 5, 6, 7]
    # never reached: threshold 0, every frame strictly above 0
    assert histogram_threshold(CURVE, bins=10, top_k=20) == 0.0
    assert high_frames(CURVE, 0.0).tolist() == list(range(9))


def test_a_flat_curve_is_the_whole_video() -> None:
    flat = np.zeros(6)
    assert high_frames(flat, histogram_threshold(flat, top_k=2)).tolist() == list(range(6))


def test_top_k_is_fixed_or_a_fraction_of_the_frames() -> None:
    assert (top_k_for(75, 8, 0.1), top_k_for(75, None, 0.1), top_k_for(30, None, 0.1), top_k_for(3, None, 0.1)) == (
        8,
        8,
        3,
        1,
    )


def test_gap_merge_joins_frames_at_most_gap_seconds_apart() -> None:
    starts = np.arange(10, dtype=float)
    assert [g.tolist() for g in merge_frames(np.array([1, 2, 5, 9]), starts, gap=2.0)] == [[1, 2], [5], [9]]
    assert [g.tolist() for g in merge_frames(np.array([1, 2, 5, 9]), starts, gap=3.0)] == [[1, 2, 5], [9]]
    tenths = np.arange(10) * 0.1  # 0.30000000000000004 - 0.1 must not count as more than 0.2
    assert [g.tolist() for g in merge_frames(np.array([1, 3]), tenths, gap=0.2)] == [[1, 3]]
    assert merge_frames(np.array([], dtype=int), starts, gap=1.0) == []


def test_filter_drops_the_bottom_fraction_by_mean_and_keeps_one() -> None:
    means = np.array([0.5, 0.9, 0.2, 0.7, 0.6])
    assert keep_top_means(means, 0.2).tolist() == [0, 1, 3, 4]  # floor(1.0) = 1 dropped: the 0.2
    assert keep_top_means(means, 0.5).tolist() == [1, 3, 4]  # floor(2.5) = 2: the 0.2 and the 0.5
    assert keep_top_means(np.array([0.9]), 0.9).tolist() == [0]  # never empty
    assert keep_top_means(np.array([0.3, 0.3, 0.8]), 0.34).tolist() == [0, 2]  # a tie drops the later one


def test_score_mixes_mean_and_normalised_length() -> None:
    got = proposal_scores(np.array([0.8, 0.6]), np.array([3, 1]), length_weight=0.3)
    assert got == pytest.approx([0.7 * 0.8 + 0.3 * 0.75, 0.7 * 0.6 + 0.3 * 0.25])
    assert proposal_scores(np.array([0.8]), np.array([2]), length_weight=0.0) == pytest.approx([0.8])


def test_nms_keeps_the_best_and_suppresses_overlaps_at_the_threshold() -> None:
    windows = np.array([[0.0, 10.0], [1.0, 10.0], [20.0, 30.0], [0.0, 9.0]])
    scores = np.array([0.9, 0.8, 0.7, 0.95])
    # IoU with the best [0, 9]: [0, 10] 0.9, [1, 10] 0.8, [20, 30] 0
    assert nms(windows, scores, 0.7).tolist() == [3, 2]
    assert nms(windows, scores, 0.95).tolist() == [3, 0, 1, 2]
    assert nms(windows, scores, 0.95, max_keep=2).tolist() == [3, 0]


HAND = np.array([0.0, 0.1, 0.9, 1.0, 0.95, 0.0, 0.0, 0.2, 0.85, 0.3, 0.0, 0.0])
GRID = frame_grid(np.zeros((12, 2)), np.stack([np.arange(12.0)] * 2, axis=1), duration=12.0)


def test_composed_proposals_on_a_hand_curve() -> None:
    # top_k 4: [0.9, 1] holds 0.9, 1.0, 0.95; [0.8, 0.9) adds 0.85 -> threshold 0.8, high frames 2, 3, 4, 8
    settings = ProposalSettings(top_k=4, gap=1.0, drop_fraction=0.2, length_weight=0.3, nms_iou=0.7)
    found = curve_proposals(HAND, GRID, settings)
    assert found.windows.tolist() == [[2.0, 5.0], [8.0, 9.0]]
    assert found.means == pytest.approx([0.95, 0.85]) and found.sizes.tolist() == [3, 1]
    assert rank_windows([HAND], GRID, settings) == [[2.0, 5.0, pytest.approx(0.89)], [8.0, 9.0, pytest.approx(0.67)]]
    wide = ProposalSettings(top_k=4, gap=4.0)  # frames 4 and 8 are 4 s apart: one proposal, the gap inside it
    assert rank_windows([HAND], GRID, wide) == [[2.0, 9.0, pytest.approx(0.7 * 0.925 + 0.3)]]
    dropped = ProposalSettings(top_k=4, gap=1.0, drop_fraction=0.5)  # floor(0.5 * 2) = 1: the 0.85 proposal goes
    assert rank_windows([HAND], GRID, dropped) == [[2.0, 5.0, pytest.approx(0.7 * 0.95 + 0.3)]]
    assert len(rank_windows([HAND], GRID, settings, k=1)) == 1


def test_pooled_curves_go_through_one_nms() -> None:
    settings = ProposalSettings(top_k=4, gap=1.0, nms_iou=0.5)
    shifted = np.roll(HAND, 1)  # its proposals [3, 6] and [9, 10] tie with [2, 5] and [8, 9]
    pooled = rank_windows([HAND, shifted], GRID, settings)
    assert [w[:2] for w in pooled] == [[2.0, 5.0], [8.0, 9.0], [9.0, 10.0]]  # [3, 6]: IoU 0.5 with [2, 5]
    loose = rank_windows([HAND, shifted], GRID, ProposalSettings(top_k=4, gap=1.0, nms_iou=0.95))
    assert [w[:2] for w in loose] == [[2.0, 5.0], [3.0, 6.0], [8.0, 9.0], [9.0, 10.0]]


def test_saliency_is_the_overlap_weighted_mean_per_clip() -> None:
    starts, ends = np.array([0.0, 1.0, 2.0, 3.0, 4.0]), np.array([1.0, 2.0, 3.0, 4.0, 4.5])
    assert on_clip_grid(np.array([1.0, 0.0, 1.0, 1.0, 0.5]), starts, ends, 4.5, clip_len=2.0) == [0.5, 1.0, 0.5]
    holes = on_clip_grid(np.array([1.0, 0.5]), np.array([0.0, 4.0]), np.array([1.0, 5.0]), 6.0, clip_len=2.0)
    assert holes == [1.0, 0.0, 0.5]  # no frame covers [2, 4)


def test_threshold_bins_as_numpy_histogram_does() -> None:
    """The threshold counts bins itself (no per-call ``np.histogram`` set-up); its bins must be
    ``np.histogram(scores, bins, range=(0, 1))``'s, edges and 1.0 included."""
    rng = np.random.default_rng(0)
    for i in range(2000):
        scores = rng.random(int(rng.integers(1, 80)))
        if i % 3 == 0:
            scores = np.round(scores, 1)  # values on bin edges
        scores[0] = 1.0 if i % 7 == 0 else scores[0]
        bins, top_k = int(rng.integers(1, 20)), int(rng.integers(1, 12))
        counts, edges = np.histogram(scores, bins=bins, range=(0.0, 1.0))
        reached = np.nonzero(np.cumsum(counts[::-1]) >= top_k)[0]
        expected = float(edges[bins - 1 - reached[0]]) if reached.size else 0.0
        assert histogram_threshold(scores, bins, top_k) == expected, (scores.tolist(), bins, top_k)
