"""LRCA on hand cases: zero when the pooled video relations equal the caption relations, positive
when they disagree; the neighbourhood is measured in seconds between window centres."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from grounding.layers.relation_alignment import neighbourhood, relation_alignment_loss, relation_consistency


def _captions() -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """12 s, 6 snippets of 2 s, one caption per 2 s window (centres 1, 3, ..., 11)."""
    torch.manual_seed(0)
    captions = F.normalize(torch.randn(1, 6, 4), dim=-1)
    spans = torch.tensor([[[2.0 * i, 2.0 * i + 2] for i in range(6)]])
    return captions, spans, torch.ones(1, 6, dtype=torch.bool)


@pytest.mark.parametrize("kind", ["kl", "mse"])
def test_zero_when_the_two_matrices_agree(kind: str) -> None:
    captions, spans, mask = _captions()
    relation = captions.clone()  # snippet i lies in caption window i: pooled relations == captions
    vmask = torch.ones(1, 6, dtype=torch.bool)
    loss = relation_alignment_loss(relation, vmask, captions, mask, spans, torch.tensor([12.0]), 4.0, 0.1, kind)
    assert loss.item() == pytest.approx(0.0, abs=1e-6)
    other = F.normalize(torch.randn(1, 6, 4, generator=torch.Generator().manual_seed(5)), dim=-1)
    assert relation_alignment_loss(other, vmask, captions, mask, spans, torch.tensor([12.0]), 4.0, 0.1, kind) > 1e-3


def test_neighbours_are_other_valid_windows_within_the_window() -> None:
    _, spans, mask = _captions()
    mask[0, 2] = False  # a caption lost to an error row: a gap, not a shifted neighbour
    nb = neighbourhood(spans, mask, 4.0)[0]
    assert nb[0].nonzero().flatten().tolist() == [1]  # centre 1: 3 (5 is masked)
    assert nb[3].nonzero().flatten().tolist() == [1, 4, 5]  # centre 7: 3, 9, 11
    assert not nb.diagonal().any() and not nb[2].any() and not nb[:, 2].any()


def test_kl_uses_rows_with_two_neighbours_and_its_row_softmaxes() -> None:
    text = torch.tensor([[[0.0, 1.0, 0.5], [1.0, 0.0, 0.2], [0.5, 0.2, 0.0]]])
    video = torch.tensor([[[0.0, 0.3, 0.9], [0.3, 0.0, 0.1], [0.9, 0.1, 0.0]]])
    nb = ~torch.eye(3, dtype=torch.bool).unsqueeze(0)
    p, q = torch.softmax(text[0, 0, 1:] / 0.5, -1), torch.softmax(video[0, 0, 1:] / 0.5, -1)
    row0 = (p * (p / q).log()).sum()
    nb_row0 = nb.clone()
    nb_row0[0, 1:, :] = False
    nb_row0[0, 1:, 0] = True  # rows 1 and 2 keep one neighbour: left out of the mean
    torch.testing.assert_close(relation_consistency(video, text, nb_row0, 0.5, "kl"), row0)
    empty = torch.zeros(1, 3, 3, dtype=torch.bool)
    assert relation_consistency(video, text, empty, 0.5, "kl").item() == 0.0
