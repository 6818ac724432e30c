"""Multi-head attention with its own input and output projections, as ``nn.MultiheadAttention``
computes it (q = W_q x_q, k = W_k x_k, v = W_v x_v, out = W_o softmax(q k^T / sqrt(e)) v), on the
project's shared masked attention primitive (``grounding.layers.attend``). Query, key and value
are separate inputs, so a caller adds positions to the query and key only (DETR's
``with_pos_embed``) and keeps the value free of them."""

from __future__ import annotations

from torch import Tensor, nn

from grounding.layers.attend import attend, merge_heads, split_heads


class ProjectedAttention(nn.Module):
    def __init__(self, dim: int, heads: int) -> None:
        super().__init__()
        if dim % heads != 0:
            msg = f"attention: hidden size {dim} is not divisible by heads={heads}"
            raise ValueError(msg)
        self.heads = heads
        self.q_proj, self.k_proj, self.v_proj, self.out_proj = (nn.Linear(dim, dim) for _ in range(4))

    def forward(
        self, query: Tensor, key: Tensor, value: Tensor, key_mask: Tensor, bias: Tensor | None = None
    ) -> Tensor:
        """query (B, Lq, d), key / value (B, Lk, d), key_mask (B, Lk) bool (True: attendable)
        -> (B, Lq, d). ``bias``: an additive score bias broadcastable to (B, heads, Lq, Lk)
        (Bridge-STG's temporal mask on the keys, (B, 1, 1, Lk)), see ``attend``."""
        q, k, v = (
            split_heads(p(x), self.heads) for p, x in ((self.q_proj, query), (self.k_proj, key), (self.v_proj, value))
        )
        return self.out_proj(merge_heads(attend(q, k, v, key_mask, bias)))
