"""Each frame query reads its own frame's patch tokens: multi-head attention with one query over
P keys per frame, computed with the key and value projections folded into the query side.

For one query q and keys / values x_1..x_P of width d (head j: rows j of the projections),

    score_p = (W_q q + b_q)_j . (W_k x_p)_j / sqrt(e)  =  (W_k,j^T (W_q q + b_q)_j) . x_p / sqrt(e)
    out     = W_o [ W_v,j (sum_p a_p x_p) + b_v,j ]_j + b_o              (the a_p sum to 1)

so the P keys are never projected: the cost per frame is O(P d) per head instead of O(P d^2),
which is most of the spatial decoder's time with 7 x 7 patches. It equals
``grounding.layers.detr.ProjectedAttention`` with a zero key bias (a key bias adds the same
``q . b_k`` to every score of a query and cancels in the softmax, so the key projection has none
here) on a one-query-per-frame input (a test checks it)."""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn


class FramePatchAttention(nn.Module):
    def __init__(self, dim: int, heads: int) -> None:
        super().__init__()
        if dim % heads != 0:
            msg = f"attention: hidden size {dim} is not divisible by heads={heads}"
            raise ValueError(msg)
        self.heads = heads
        self.q_proj, self.v_proj, self.out_proj = nn.Linear(dim, dim), nn.Linear(dim, dim), nn.Linear(dim, dim)
        self.k_proj = nn.Linear(dim, dim, bias=False)

    def forward(
        self, query: Tensor, keys: Tensor, values: Tensor, weights: bool = False
    ) -> Tensor | tuple[Tensor, Tensor]:
        """query (N, d), keys / values (N, P, d) -> (N, d): query n attends its own P keys.
        ``weights``: also the attention over the P keys, averaged over heads (N, P)."""
        n, d = query.shape
        h = self.heads
        e = d // h
        q = self.q_proj(query).view(n, h, e)
        folded = torch.einsum("nhe,hed->nhd", q, self.k_proj.weight.view(h, e, d))  # W_k^T q, per head
        attn = torch.softmax(torch.einsum("nhd,npd->nhp", folded, keys) / math.sqrt(e), dim=-1)
        pooled = torch.einsum("nhp,npd->nhd", attn, values)  # sum_p a_p x_p, per head
        v = torch.einsum("nhd,hed->nhe", pooled, self.v_proj.weight.view(h, e, d)) + self.v_proj.bias.view(h, e)
        out = self.out_proj(v.reshape(n, d))
        return (out, attn.mean(dim=1)) if weights else out
