from __future__ import annotations

import math

import pytest
import torch

from grounding.layers import MASKED_LOGIT
from grounding.models.decode import span_scores, topk_spans


def logits_of(p: list[float]) -> torch.Tensor:
    return torch.tensor([[math.log(x) if x > 0 else MASKED_LOGIT for x in p]])


def test_topk_on_a_hand_case() -> None:
    # p_s = [.1, .6, .3], p_e = [.5, .2, .3]; spans i <= j:
    # (0,0).05 (0,1).02 (0,2).03 (1,1).12 (1,2).18 (2,2).09
    start, end = logits_of([0.1, 0.6, 0.3]), logits_of([0.5, 0.2, 0.3])
    mask = torch.ones(1, 3, dtype=torch.bool)
    spans, scores = topk_spans(start, end, mask, k=4)
    assert spans[0].tolist() == [[1, 2], [1, 1], [2, 2], [0, 0]]
    torch.testing.assert_close(scores[0], torch.tensor([0.18, 0.12, 0.09, 0.05]))


def test_max_len_forbids_long_spans() -> None:
    start, end = logits_of([0.7, 0.1, 0.2]), logits_of([0.1, 0.1, 0.8])
    mask = torch.ones(1, 3, dtype=torch.bool)
    assert topk_spans(start, end, mask, k=1)[0][0].tolist() == [[0, 2]]
    spans, scores = topk_spans(start, end, mask, k=1, max_len=2)
    assert spans[0].tolist() == [[2, 2]]  # .2 * .8 beats .7 * .1 once (0, 2) is too long
    assert scores[0].item() == pytest.approx(0.16, rel=1e-5)


def test_padded_snippets_never_win_and_short_rows_are_filled() -> None:
    start = torch.tensor([[0.0, 0.0, 9.0, 9.0], [0.0, 1.0, 2.0, 3.0]])
    end = torch.tensor([[0.0, 0.0, 9.0, 9.0], [3.0, 2.0, 1.0, 0.0]])
    mask = torch.tensor([[True, True, False, False], [True, True, True, True]])
    spans, scores = topk_spans(start, end, mask, k=5)
    assert spans.shape == (2, 5, 2) and scores.shape == (2, 5)
    assert (spans[0] <= 1).all()
    assert scores[0, :3].sum().item() == pytest.approx(0.75)  # (0,0) (0,1) (1,1) at 0.25 each
    assert scores[0, 3:].tolist() == [0.0, 0.0]  # only three valid spans: fillers score 0
    assert spans[0, 3:].tolist() == [spans[0, 0].tolist()] * 2
    assert (spans[1, :, 0] <= spans[1, :, 1]).all()
    assert (scores[1, :-1] >= scores[1, 1:]).all()


def test_k_is_capped_and_matrix_is_upper_triangular() -> None:
    start = torch.zeros(1, 2)
    mask = torch.ones(1, 2, dtype=torch.bool)
    spans, scores = topk_spans(start, start, mask, k=10)
    assert spans.shape == (1, 3, 2)  # 2 snippets -> 3 spans
    assert sorted(map(tuple, spans[0].tolist())) == [(0, 0), (0, 1), (1, 1)]
    assert span_scores(start, start, mask)[0, 1, 0].item() == -1.0


def test_bad_arguments() -> None:
    x, mask = torch.zeros(1, 2), torch.ones(1, 2, dtype=torch.bool)
    with pytest.raises(ValueError, match="k must be"):
        topk_spans(x, x, mask, k=0)
    with pytest.raises(ValueError, match="max_len"):
        topk_spans(x, x, mask, max_len=0)
