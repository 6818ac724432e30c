"""The context-aware codebook: what each context mode reads, and the orthogonality term."""

from __future__ import annotations

import pytest
import torch

from grounding.layers.context_codebook import ContextCodebook, orthogonality_loss


def _inputs(seed: int) -> tuple[torch.Tensor, ...]:
    g = torch.Generator().manual_seed(seed)
    return (
        torch.randn(2, 6, 8, generator=g),
        torch.ones(2, 6, dtype=torch.bool),
        torch.randn(2, 4, 8, generator=g),
        torch.tensor([[True] * 4, [True, True, False, False]]),
    )


def test_each_context_mode_reads_what_it_says() -> None:
    torch.manual_seed(0)
    v, vm, w, wm = _inputs(0)
    v2, _, w2, _ = _inputs(1)
    static = ContextCodebook(8, size=3, heads=2, context="none").eval()
    torch.testing.assert_close(static(v, vm, w, wm), static(v2, vm, w2, wm))
    assert static(v, vm, w, wm).shape == (2, 3, 8) and len(static.encoder) == 0
    query = ContextCodebook(8, size=3, heads=2, context="query").eval()
    torch.testing.assert_close(query(v, vm, w, wm), query(v2, vm, w, wm))  # video ignored
    assert not torch.allclose(query(v, vm, w, wm), query(v, vm, w2, wm))
    both = ContextCodebook(8, size=3, heads=2, context="query+video").eval()
    assert not torch.allclose(both(v, vm, w, wm), both(v2, vm, w, wm))
    padded = w.clone()
    padded[1, 2:] = 1e3  # masked words are never read
    torch.testing.assert_close(both(v, vm, w, wm)[1], both(v, vm, padded, wm)[1])


def test_orthogonality_loss_on_hand_cases() -> None:
    assert orthogonality_loss(torch.eye(4)[:3].unsqueeze(0)).item() == pytest.approx(0.0)
    assert orthogonality_loss(torch.ones(1, 3, 4)).item() == pytest.approx(1.0)
    assert orthogonality_loss(torch.ones(1, 1, 4)).item() == 0.0  # fewer than two entries
