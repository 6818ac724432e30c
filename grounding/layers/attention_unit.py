"""The attention unit A of TEA Eq. (6): a target sequence X^t attends a reference X^r.

    R(X^t, X^r) = Softmax(FC(X^t) FC(X^r)^T / sqrt(d))
    A(X^t, X^r) = FC(X^t + R(X^t, X^r) FC(X^r))

four independent FC layers (query, key, value, output), multi-head (TEA: 8 heads of a 128-d
hidden size, so sqrt(d) is the per-head size), followed by layer normalisation and dropout
(TEA: 0.2)."""

from __future__ import annotations

from torch import Tensor, nn

from grounding.layers.attend import attend, split_heads
from grounding.layers.dropout import Dropout
from grounding.layers.masking import zero_padded


class AttentionUnit(nn.Module):
    def __init__(self, dim: int, heads: int = 8, dropout: float = 0.2) -> None:
        super().__init__()
        if dim % heads != 0:
            msg = f"attention unit: hidden size {dim} is not divisible by heads={heads}"
            raise ValueError(msg)
        self.heads = heads
        self.fc_query = nn.Linear(dim, dim)
        self.fc_key = nn.Linear(dim, dim)
        self.fc_value = nn.Linear(dim, dim)
        self.fc_out = nn.Linear(dim, dim)
        self.norm = nn.LayerNorm(dim)
        self.drop = Dropout(dropout)

    def _split(self, x: Tensor) -> Tensor:
        return split_heads(x, self.heads)  # (B, h, n, d_h)

    def forward(
        self, target: Tensor, target_mask: Tensor, ref: Tensor, ref_mask: Tensor, bias: Tensor | None = None
    ) -> Tensor:
        """target (B, Lt, d), ref (B, Lr, d), masks (B, Lt) / (B, Lr) bool -> (B, Lt, d).
        ``bias``: an optional additive score bias broadcastable to (B, h, Lt, Lr), added to the
        scaled scores before the softmax (a relational prior, e.g. MASRA's second-order term)."""
        q, k, v = self._split(self.fc_query(target)), self._split(self.fc_key(ref)), self._split(self.fc_value(ref))
        # R FC(X^r) with R of Eq. (6), scale 1/sqrt(d_h): the shared fused primitive
        # (grounding.layers.attend; a row with no valid reference gets context 0)
        ctx = attend(q, k, v, ref_mask, bias)  # (B, h, Lt, d_h)
        ctx = ctx.transpose(1, 2).reshape(target.shape)  # heads merged
        out = self.drop(self.norm(self.fc_out(target + ctx)))  # FC(X^t + R FC(X^r))
        return zero_padded(out, target_mask)
