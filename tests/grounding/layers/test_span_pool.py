"""Overlap weights of spans on the snippet grid (MASRA's ESTA and LRCA pool with them)."""

from __future__ import annotations

import torch

from grounding.layers.span_pool import overlap_weights, pool_spans


def test_weights_are_the_seconds_shared_with_each_snippet() -> None:
    # 10 s over 5 valid snippets of 2 s (a sixth, padded slot); spans in seconds
    spans = torch.tensor([[[1.0, 5.0], [3.0, 3.5], [8.0, 14.0], [12.0, 15.0], [3.0, 3.0], [0.0, 10.0]]])
    span_mask = torch.tensor([[True, True, True, True, True, False]])
    video_mask = torch.tensor([[True] * 5 + [False]])
    weights, valid = overlap_weights(spans, span_mask, torch.tensor([10.0]), video_mask)
    assert valid.tolist() == [[True, True, True, False, False, False]]  # empty after clipping / zero length / masked
    torch.testing.assert_close(weights[0, 0], torch.tensor([0.25, 0.5, 0.25, 0.0, 0.0, 0.0]))
    torch.testing.assert_close(weights[0, 1], torch.tensor([0.0, 1.0, 0.0, 0.0, 0.0, 0.0]))  # inside one snippet
    torch.testing.assert_close(weights[0, 2], torch.tensor([0.0, 0.0, 0.0, 0.0, 1.0, 0.0]))  # clipped to [8, 10]
    assert (weights[0, 3:] == 0).all()


def test_grid_follows_each_rows_own_length_and_duration() -> None:
    spans = torch.tensor([[[0.0, 3.0]], [[0.0, 3.0]]])
    video_mask = torch.tensor([[True] * 4, [True, True, False, False]])
    weights, valid = overlap_weights(spans, torch.ones(2, 1, dtype=torch.bool), torch.tensor([4.0, 6.0]), video_mask)
    assert valid.all()
    torch.testing.assert_close(weights[0, 0], torch.tensor([1 / 3, 1 / 3, 1 / 3, 0.0]))  # 1 s snippets
    torch.testing.assert_close(weights[1, 0], torch.tensor([1.0, 0.0, 0.0, 0.0]))  # 3 s snippets
    x = torch.arange(8.0).view(2, 4, 1)
    torch.testing.assert_close(pool_spans(x, weights), torch.tensor([[[1.0]], [[4.0]]]))
