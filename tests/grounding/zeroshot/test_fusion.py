"""Step D on a hand case: 2-d caption vectors whose cosines are read off by eye.

Frames (agnostic captions): [1, 0], [0, 1], [1, 1], [-1, 0]; simplified rewrite [1, 0], detailed
rewrite [0, 1]; query-aware captions on frames 1 and 2.
    g(q_s, C_agn) = minmax(1, 0, 0.7071, -1)       = (1, 0.5, 0.8536, 0)
    g(q_d, C_awr) = minmax over key frames (1, 0.7071) = (1, 0), placed: (0, 1, 0, 0)
    S = (g_s + g_d) / 2                             = (0.5, 0.75, 0.4268, 0)"""

from __future__ import annotations

import numpy as np
import pytest

from grounding.zeroshot.fusion import PAIRINGS, AwareCaptions, QueryTexts, fuse
from grounding.zeroshot.grid import frame_grid

R2 = np.sqrt(0.5)
GRID = frame_grid(
    np.array([[1.0, 0.0], [0.0, 1.0], [R2, R2], [-1.0, 0.0]]),
    np.array([[0.0, 0.0], [1.0, 1.0], [2.0, 2.0], [3.0, 3.0]]),
    duration=4.0,
)
TEXTS = QueryTexts(original=np.array([0.0, 1.0]), simplified=np.array([[1.0, 0.0]]), detailed=np.array([[0.0, 1.0]]))
AWARE = AwareCaptions(np.array([[0.0, 2.0], [1.0, 1.0]]), np.array([1, 2]))  # unnormalised on purpose
NONE = AwareCaptions(np.zeros((0, 2)), np.zeros(0, dtype=int))
G_S = [1.0, 0.5, (1 + R2) / 2, 0.0]


def test_fused_score_of_the_full_method() -> None:
    fused = fuse(TEXTS, GRID, AWARE)
    assert fused.curve == pytest.approx([0.5, 0.75, (1 + R2) / 4, 0.0])
    assert fused.rows.shape == (2, 4) and fused.channels == ["simplified->agnostic", "detailed->aware"]
    assert fused.fallback == ""


def test_m_pairs_average_over_2m_curves() -> None:
    texts = QueryTexts(TEXTS.original, np.array([[1.0, 0.0], [-1.0, 0.0]]), np.array([[0.0, 1.0], [0.0, 1.0]]))
    fused = fuse(texts, GRID, AWARE)
    second = [0.0, 0.5, (1 - R2) / 2, 1.0]  # minmax(-1, 0, -0.7071, 1)
    assert fused.rows.shape == (4, 4)
    assert fused.curve == pytest.approx((np.array(G_S) + np.array(second) + 2 * np.array([0, 1, 0, 0])) / 4)


def test_frames_without_an_aware_caption_zero_or_agnostic() -> None:
    zero = fuse(TEXTS, GRID, AWARE, pairing="detailed_only")
    assert zero.curve == pytest.approx([0.0, 1.0, 0.0, 0.0])
    # the switch: q_d against the agnostic caption off the key frames, the whole curve normalised:
    # (cos([0,1],[1,0]), aware 1, aware 0.7071, cos([0,1],[-1,0])) = (0, 1, 0.7071, 0)
    agnostic = fuse(TEXTS, GRID, AWARE, pairing="detailed_only", missing_aware="agnostic")
    assert agnostic.curve == pytest.approx([0.0, 1.0, R2, 0.0])


def test_each_pairing_runs_its_channels() -> None:
    assert fuse(TEXTS, GRID, AWARE, pairing="simplified_only").curve == pytest.approx(G_S)
    assert fuse(TEXTS, GRID, AWARE, pairing="original_agnostic").curve == pytest.approx([0.0, 1.0, R2, 0.0])
    assert fuse(TEXTS, GRID, AWARE, pairing="original_aware").curve == pytest.approx([0.0, 1.0, 0.0, 0.0])
    crossed = fuse(TEXTS, GRID, AWARE, pairing="crossed")  # q_s -> aware: minmax(0, 0.7071) = (0, 1) on frames 1, 2
    assert crossed.curve == pytest.approx((np.array([0.0, 0.0, 1.0, 0.0]) + np.array([0.0, 1.0, R2, 0.0])) / 2)
    assert set(PAIRINGS) >= {"both", "simplified_only", "detailed_only", "original_agnostic", "original_aware"}


def test_an_unseen_query_falls_back_and_says_so() -> None:
    simplified = fuse(TEXTS, GRID, NONE)
    assert simplified.curve == pytest.approx(G_S) and simplified.channels == ["simplified->agnostic"]
    assert "no query-aware captions" in simplified.fallback
    original = fuse(TEXTS, GRID, NONE, fallback="original")
    assert original.channels == ["original->agnostic"] and original.curve == pytest.approx([0.0, 1.0, R2, 0.0])
    bare = QueryTexts(np.array([1.0, 0.0]), np.zeros((0, 2)), np.zeros((0, 2)))
    no_rewrites = fuse(bare, GRID, AWARE)  # the original query plays both roles
    assert no_rewrites.curve == pytest.approx((np.array(G_S) + np.array([0.0, 0.0, 1.0, 0.0])) / 2)
    assert "no rewrites" in no_rewrites.fallback
    with pytest.raises(ValueError, match="unknown pairing 'bath'"):
        fuse(TEXTS, GRID, AWARE, pairing="bath")  # type: ignore[arg-type]
