"""The set criterion on a case worked by hand (two decoder queries, one window)."""

from __future__ import annotations

import math

import pytest
import torch

from grounding.layers.detr import HungarianMatcher, SetCriterion


def _case() -> tuple[torch.Tensor, ...]:
    logits = torch.tensor([[[2.0, 0.0], [0.0, 1.0]]])
    spans = torch.tensor([[[0.5, 0.2], [0.3, 0.4]]])  # (centre, width): (0.4, 0.6) and (0.1, 0.5)
    targets = torch.tensor([[[0.45, 0.3]]])  # (0.3, 0.6)
    return logits, spans, targets, torch.tensor([[True]])


def test_fixed_case_by_hand() -> None:
    logits, spans, targets, mask = _case()
    crit = SetCriterion(
        HungarianMatcher(10.0, 1.0, 4.0), span_weight=10.0, giou_weight=1.0, label_weight=4.0, eos_coef=0.1
    )
    # costs: query 0: 10*0.15 - 2/3 - 4*sigmoid(2) = -2.69; query 1: 10*0.25 - 0.4 - 4*sigmoid(-1) = 1.02
    assert [r.tolist() for r, _ in crit.matcher(logits, spans, targets, mask)] == [[0]]
    parts = crit(logits, spans, targets, mask)
    assert parts["span"].item() == pytest.approx((0.05 + 0.1) / 2)
    assert parts["giou"].item() == pytest.approx(1 - 0.2 / 0.3)  # nested: gIoU = IoU
    fg = math.log1p(math.exp(-2.0))  # -log softmax([2, 0])[0], weight 1
    bg = 0.1 * math.log1p(math.exp(-1.0))  # -log softmax([0, 1])[1], weight eos_coef
    assert parts["label"].item() == pytest.approx((fg + bg) / 2)  # plain mean over queries
    assert crit.weighted(parts).item() == pytest.approx(10 * 0.075 + (1 - 2 / 3) + 4 * (fg + bg) / 2)


def test_aux_layers_are_matched_again_and_named() -> None:
    logits, spans, targets, mask = _case()
    swapped = (logits.flip(1), spans.flip(1))  # the good query is now index 1
    crit = SetCriterion()
    parts = crit(logits, spans, targets, mask, aux=[swapped])
    assert set(parts) == {"span", "giou", "label", "aux0_span", "aux0_giou", "aux0_label"}
    for name in ("span", "giou", "label"):
        assert parts[f"aux0_{name}"].item() == pytest.approx(parts[name].item())
    assert crit.weighted(parts).item() == pytest.approx(
        2 * crit.weighted({k: parts[k] for k in ("span", "giou", "label")}).item()
    )


def test_no_ground_truth_gives_zero_span_terms_on_the_graph() -> None:
    logits, spans, targets, mask = _case()
    spans.requires_grad_(True)
    parts = SetCriterion()(logits, spans, targets, torch.zeros_like(mask))
    assert parts["span"].item() == 0.0 and parts["giou"].item() == 0.0
    (parts["span"] + parts["label"]).backward()
    assert spans.grad is not None
