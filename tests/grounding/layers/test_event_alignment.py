"""ESTA's loss on hand cases: events whose pooled context matches their description score near
the minimum, swapped spans score high, near-duplicate descriptions are not negatives."""

from __future__ import annotations

import math

import pytest
import torch

from grounding.layers.event_alignment import event_alignment_loss, symmetric_info_nce

TAU = 0.07


def _video() -> tuple[torch.Tensor, ...]:
    """8 s, 4 snippets of 2 s: snippets 0-1 carry z_a, snippets 2-3 carry z_b (orthogonal)."""
    z = torch.eye(3)[:2]  # z_a, z_b
    semantic = torch.stack([z[0], z[0], z[1], z[1]]).unsqueeze(0)  # (1, 4, 3)
    return semantic, torch.ones(1, 4, dtype=torch.bool), z.unsqueeze(0), torch.ones(1, 2, dtype=torch.bool)


def test_matching_spans_reach_the_minimum_and_swapped_spans_do_not() -> None:
    semantic, vmask, events, emask = _video()
    matched = torch.tensor([[[0.0, 4.0], [4.0, 8.0]]])
    swapped = torch.tensor([[[4.0, 8.0], [0.0, 4.0]]])
    low = event_alignment_loss(semantic, vmask, events, emask, matched, torch.tensor([8.0]), TAU)
    high = event_alignment_loss(semantic, vmask, events, emask, swapped, torch.tensor([8.0]), TAU)
    assert low.item() == pytest.approx(math.log1p(math.exp(-1 / TAU)), abs=1e-6)  # cos 1 vs cos 0: the minimum
    assert high.item() == pytest.approx(math.log1p(math.exp(1 / TAU)), rel=1e-5)
    assert high > low + 10


def test_masked_and_empty_events_are_left_out() -> None:
    semantic, vmask, events, _ = _video()
    spans = torch.tensor([[[0.0, 4.0], [4.0, 8.0]]])
    one = event_alignment_loss(semantic, vmask, events, torch.tensor([[True, False]]), spans, torch.tensor([8.0]), TAU)
    assert one.item() == pytest.approx(0.0, abs=1e-6)  # a single event has no negative
    semantic.requires_grad_(True)
    none = event_alignment_loss(
        semantic, vmask, events, torch.zeros(1, 2, dtype=torch.bool), spans, torch.tensor([8.0]), TAU
    )
    none.backward()  # no valid event: 0, still in the graph (a batch without events trains the rest)
    assert none.item() == 0.0 and (semantic.grad == 0).all()


def test_near_duplicate_descriptions_are_not_negatives() -> None:
    z = torch.nn.functional.normalize(torch.tensor([[1.0, 0.0], [1.0, 0.05]]), dim=-1)  # cos ~0.999
    pooled = z.flip(0)  # each pooled vector is closer to the other description
    assert symmetric_info_nce(pooled, z, TAU, duplicate_cos=0.95).item() == pytest.approx(0.0, abs=1e-6)
    assert symmetric_info_nce(pooled, z, TAU, duplicate_cos=1.0).item() > 0.3
