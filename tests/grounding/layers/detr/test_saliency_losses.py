"""Each QD-DETR saliency term on a case worked by hand."""

from __future__ import annotations

import math

import pytest
import torch

from grounding.layers.detr import margin_loss, negative_pair_loss, rank_contrastive_loss, sample_pairs

T = torch.tensor


def test_negative_pair_loss_by_hand() -> None:
    neg = T([[0.0, math.log(3.0), 5.0]])
    mask = T([[True, True, False]])
    # -log(1 - sigmoid(0)) = log 2, -log(1 - sigmoid(log 3)) = log 4; the padded snippet is ignored
    assert negative_pair_loss(neg, mask).item() == pytest.approx(math.log(2) + math.log(4))
    two = negative_pair_loss(T([[0.0], [math.log(3.0)]]), T([[True], [True]]))
    assert two.item() == pytest.approx((math.log(2) + math.log(4)) / 2)  # mean over queries


def test_rank_contrastive_binary_labels_by_hand() -> None:
    scores, labels, mask = T([[1.0, 0.0]]), T([[1.0, 0.0]]), T([[True, True]])
    # level 1 only: -log softmax([1, 0] / 0.5)[0] = log(1 + e^-2), divided by coef 12
    got = rank_contrastive_loss(scores, labels, mask, tau=0.5, coef=12.0)
    assert got.item() == pytest.approx(math.log1p(math.exp(-2.0)) / 12, rel=1e-5)
    # with the other video's query: two more snippets at score 0, labelled 0
    got = rank_contrastive_loss(scores, labels, mask, neg_scores=T([[0.0, 0.0]]), tau=0.5, coef=12.0)
    assert got.item() == pytest.approx(math.log1p(3 * math.exp(-2.0)) / 12, rel=1e-5)


def test_rank_contrastive_graded_labels_and_padding() -> None:
    # QVHighlights-style scores 2, 1, 0 and one padded snippet with a huge score
    scores, labels, mask = T([[0.0, 0.0, 0.0, 50.0]]), T([[2.0, 1.0, 0.0, 9.0]]), T([[True, True, True, False]])
    # level 1: snippets {0, 1}, each log p = -log 3; level 2: {0}: -log 3; level >= 3: none
    got = rank_contrastive_loss(scores, labels, mask, coef=1.0)
    assert got.item() == pytest.approx(2 * math.log(3), rel=1e-5)


def test_rank_contrastive_rows_without_positives_add_nothing() -> None:
    scores, mask = T([[1.0, 0.0], [3.0, -1.0]]), T([[True, True], [True, True]])
    one = rank_contrastive_loss(scores[:1], T([[1.0, 0.0]]), mask[:1])
    both = rank_contrastive_loss(scores, T([[1.0, 0.0], [0.0, 0.0]]), mask)
    assert both.item() == pytest.approx(one.item() / 2)  # mean over rows, the empty row is 0


def test_margin_loss_by_hand() -> None:
    scores = T([[0.5, 0.1, 0.4]])
    # pairs (0 vs 1): 0.2 + 0.1 - 0.5 < 0 -> 0; (0 vs 2): 0.2 + 0.4 - 0.5 = 0.1; sum / 2 pairs * 2
    assert margin_loss(scores, T([[0, 0]]), T([[1, 2]]), margin=0.2).item() == pytest.approx(0.1)
    assert margin_loss(scores, T([[0, 0]]), T([[1, 2]]), rows=T([False])).item() == 0.0


def test_sample_pairs_draw_inside_and_outside_the_moment() -> None:
    labels = T([[0.0, 1.0, 1.0, 0.0, 0.0], [1.0, 1.0, 1.0, 0.0, 0.0], [0.0, 2.0, 0.0, 0.0, 0.0]])
    mask = T([[True] * 5, [True, True, True, False, False], [True] * 5])
    g = torch.Generator().manual_seed(0)
    pos, neg, rows = sample_pairs(labels, mask, n_pairs=50, generator=g)
    assert rows.tolist() == [True, False, True]  # row 1 has no valid snippet outside its moment
    for r in (0, 2):
        assert (labels[r, pos[r]] > 0).all() and (labels[r, neg[r]] == 0).all() and mask[r, neg[r]].all()
