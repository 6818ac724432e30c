"""MASRA's semantic-guided enhancement (design note section 2.3): a gated residual from the
semantic head (the text-space vectors ``u`` that ESTA shapes) into the video features,

    h <- LN(h + sigma(W_g [h ; W_p u]) * W_p u)

so the learned event semantics reach inference with no prior read. Gradients flow into ``u``;
ESTA keeps it in the sentence encoder's space."""

from __future__ import annotations

import torch
from torch import Tensor, nn

from grounding.layers.dropout import Dropout
from grounding.layers.masking import zero_padded


class SemanticEnhance(nn.Module):
    def __init__(self, dim: int, semantic_dim: int, dropout: float = 0.0) -> None:
        super().__init__()
        self.proj = nn.Linear(semantic_dim, dim)  # W_p
        self.gate = nn.Linear(2 * dim, dim)  # W_g
        self.norm = nn.LayerNorm(dim)
        self.drop = Dropout(dropout)

    def forward(self, h: Tensor, mask: Tensor, semantic: Tensor) -> Tensor:
        """h (B, L, d), mask (B, L), semantic (B, L, Dt) -> (B, L, d), zero at padding."""
        p = self.proj(semantic)
        g = torch.sigmoid(self.gate(torch.cat([h, p], dim=-1)))
        return zero_padded(self.drop(self.norm(h + g * p)), mask)
