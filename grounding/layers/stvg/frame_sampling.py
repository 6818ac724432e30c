"""Positive / negative frame sampling (our reading of Bridge-STG's QGSL component, notes 2.2.4):
in training the spatial decoder sees only some frames of a query's evaluation grid, up to
``n_pos`` positives drawn uniformly among the frames inside the GT tube (they carry the box and
presence losses) and up to ``n_neg`` negatives among the valid frames outside it (presence loss
only, target 0). Inference decodes every frame."""

from __future__ import annotations

import torch
from torch import Tensor


def sample_frames(
    presence: Tensor, valid: Tensor, n_pos: int, n_neg: int, generator: torch.Generator | None = None
) -> tuple[Tensor, Tensor]:
    """presence (B, F) in {0, 1}, valid (B, F) bool -> (index (B, S) long, mask (B, S) bool) with
    S = n_pos + n_neg: slots [0, n_pos) hold a row's positives, [n_pos, S) its negatives, each
    padded at its end (mask False, index 0).
    A row with fewer positives (negatives) than asked takes all it has."""
    b = presence.shape[0]
    pos = (presence > 0.5) & valid
    neg = (presence <= 0.5) & valid
    index = torch.zeros(b, n_pos + n_neg, dtype=torch.long, device=presence.device)
    mask = torch.zeros(b, n_pos + n_neg, dtype=torch.bool, device=presence.device)
    for i in range(b):
        for pool, n, at in ((pos[i], n_pos, 0), (neg[i], n_neg, n_pos)):
            candidates = pool.nonzero().squeeze(1)
            if n <= 0 or candidates.numel() == 0:
                continue
            order = torch.randperm(candidates.numel(), generator=generator).to(candidates.device)
            chosen = candidates[order[:n]].sort().values
            index[i, at : at + chosen.numel()] = chosen
            mask[i, at : at + chosen.numel()] = True
    return index, mask
