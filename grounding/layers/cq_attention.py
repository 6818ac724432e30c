"""Context-query attention H(V, Q) of TEA Eq. (11) (VSLNet's CQA with TEA's scaled dot-product
similarity):

    R = FC(V) FC(Q)^T / sqrt(d);   R^r, R^c = softmax of R over words / over snippets
    X^{v2q} = R^r Q;   X^{q2v} = R^r R^{cT} V
    V^ = FC(V || X^{v2q} || V o X^{v2q} || V o X^{q2v})"""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn

from grounding.layers.dropout import Dropout
from grounding.layers.masking import masked_softmax, zero_padded


class ContextQueryAttention(nn.Module):
    def __init__(self, dim: int, dropout: float = 0.0) -> None:
        super().__init__()
        self.fc_video = nn.Linear(dim, dim)
        self.fc_query = nn.Linear(dim, dim)
        self.fc_out = nn.Linear(4 * dim, dim)
        self.drop = Dropout(dropout)

    def forward(self, v: Tensor, v_mask: Tensor, q: Tensor, q_mask: Tensor) -> Tensor:
        """v (B, L, d), q (B, Lq, d) -> V^ (B, L, d)."""
        r = self.fc_video(v) @ self.fc_query(q).transpose(1, 2) / math.sqrt(v.shape[-1])  # (B, L, Lq)
        r_row = masked_softmax(r, q_mask[:, None, :], dim=2)  # R^r: over words
        r_col = masked_softmax(r, v_mask[:, :, None], dim=1)  # R^c: over snippets
        v2q = r_row @ q
        q2v = r_row @ (r_col.transpose(1, 2) @ v)  # (L x Lq)(Lq x d): 2 L Lq d, not L^2 (Lq + d)
        fused = torch.cat([v, v2q, v * v2q, v * q2v], dim=-1)
        return zero_padded(self.fc_out(self.drop(fused)), v_mask)
