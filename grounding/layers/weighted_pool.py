"""Sentence feature q as a learned weighted sum of word features (the ``q`` of TEA Eq. (10),
VSLNet's weighted pooling): a = softmax_w(Q w), q = sum_w a_w Q_w, padded words excluded."""

from __future__ import annotations

import torch
from torch import Tensor, nn

from grounding.layers.masking import masked_softmax


class WeightedPool(nn.Module):
    def __init__(self, dim: int) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.empty(dim))
        nn.init.normal_(self.weight, std=dim**-0.5)

    def forward(self, q: Tensor, q_mask: Tensor) -> Tensor:
        """q (B, Lq, d), q_mask (B, Lq) -> (B, d)."""
        alpha = masked_softmax(q @ self.weight, q_mask, dim=1)
        return (alpha.unsqueeze(-1) * q).sum(dim=1)
