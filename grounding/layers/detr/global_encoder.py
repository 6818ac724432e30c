"""QD-DETR's encoder: post-norm self-attention layers over the video with a learnable global
token (and its learnable position) prepended:

    [g; X] -> L x { x = LN1(x + drop(Attn(q = k = x + pos, v = x))); x = LN2(x + drop(FFN(x))) }

The global token attends every valid snippet but is itself not a key: QD-DETR marks it as
padding in the key mask, so no snippet attends to it (kept as released). Returns the token's
output (the "global memory", QD-DETR's sentence-level summary of the video given the query) and
the snippets' outputs (the "local memory")."""

from __future__ import annotations

import torch
from torch import Tensor, nn

from grounding.layers.detr.feed_forward import Activation, FeedForward
from grounding.layers.detr.multi_head import ProjectedAttention
from grounding.layers.dropout import Dropout


class SelfAttentionLayer(nn.Module):
    """One post-norm encoder layer; positions are added to queries and keys only."""

    def __init__(
        self, dim: int, heads: int, ffn_dim: int, dropout: float = 0.1, activation: Activation = "relu"
    ) -> None:
        super().__init__()
        self.attn = ProjectedAttention(dim, heads)
        self.ffn = FeedForward(dim, ffn_dim, dropout, activation)
        self.norm1, self.norm2 = nn.LayerNorm(dim), nn.LayerNorm(dim)
        self.drop1, self.drop2 = Dropout(dropout), Dropout(dropout)

    def forward(self, x: Tensor, key_mask: Tensor, pos: Tensor) -> Tensor:
        qk = x + pos
        x = self.norm1(x + self.drop1(self.attn(qk, qk, x, key_mask)))
        return self.norm2(x + self.drop2(self.ffn(x)))


class GlobalTokenEncoder(nn.Module):
    def __init__(
        self, n_layers: int, dim: int, heads: int, ffn_dim: int, dropout: float = 0.1, activation: Activation = "relu"
    ) -> None:
        super().__init__()
        self.layers = nn.ModuleList(
            SelfAttentionLayer(dim, heads, ffn_dim, dropout, activation) for _ in range(n_layers)
        )
        for p in self.parameters():
            if p.dim() > 1:
                nn.init.xavier_uniform_(p)
        self.token = nn.Parameter(torch.randn(dim))
        self.token_pos = nn.Parameter(torch.randn(dim))

    def forward(self, x: Tensor, mask: Tensor, pos: Tensor) -> tuple[Tensor, Tensor]:
        """x (B, L, d), mask (B, L) bool, pos (B, L, d) -> global (B, d), local (B, L, d)."""
        b, _, d = x.shape
        x = torch.cat([self.token.to(x.dtype).expand(b, 1, d), x], dim=1)
        pos = torch.cat([self.token_pos.to(pos.dtype).expand(b, 1, d), pos], dim=1)
        key_mask = torch.cat([mask.new_zeros(b, 1), mask], dim=1)  # the token is never a key
        for layer in self.layers:
            x = layer(x, key_mask, pos)
        return x[:, 0], x[:, 1:]
