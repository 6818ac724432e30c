"""Input encoder for a feature sequence (video snippets, query words, narratives): linear
projection to the hidden size, sinusoidal positional encoding, layer norm, dropout. Sinusoidal so
that any length works and a position's encoding never depends on the padded length. Dropout
comes after the projection: on 1024-d inputs drawing the mask cost more than the whole
projection on CPU."""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn

from grounding.layers.dropout import Dropout
from grounding.layers.masking import zero_padded


def sinusoidal_positions(length: int, dim: int, device: torch.device | None = None) -> Tensor:
    """(length, dim) table of the Transformer's sin/cos positional encodings."""
    pos = torch.arange(length, dtype=torch.float32, device=device).unsqueeze(1)
    freq = torch.exp(torch.arange(0, dim, 2, dtype=torch.float32, device=device) * (-math.log(10000.0) / dim))
    table = torch.zeros(length, dim, device=device)
    table[:, 0::2] = torch.sin(pos * freq)
    table[:, 1::2] = torch.cos(pos * freq[: dim // 2])
    return table


class FeatureEncoder(nn.Module):
    """(B, L, in_dim) features + (B, L) mask -> (B, L, dim), zero at padded positions."""

    def __init__(self, in_dim: int, dim: int, dropout: float = 0.0, positional: bool = True) -> None:
        super().__init__()
        self.drop = Dropout(dropout)
        self.proj = nn.Linear(in_dim, dim)
        self.norm = nn.LayerNorm(dim)
        self.positional = positional

    def forward(self, x: Tensor, mask: Tensor) -> Tensor:
        h = self.proj(x)
        if self.positional:
            h = h + sinusoidal_positions(h.shape[1], h.shape[2], h.device).to(h.dtype)
        return zero_padded(self.drop(self.norm(h)), mask)
