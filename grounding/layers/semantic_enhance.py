"""MASRA's semantic-guided enhancement (design note section 2.3): a gated residual from the
semantic head (the text-space vectors ``u`` that ESTA shapes) into the video features,

    h <- LN(h + sigma(W_g [h ; W_p u]) * W_p u)

so the learned event semantics reach inference with no prior read. Gradients flow into ``u``;
ESTA keeps it in the sentence encoder's space."""

from __future__ import annotations

import torch
import torch.nn.functional as F
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
        self._folded: tuple[tuple, Tensor, Tensor] | None = None  # inference cache, keyed by the weights' versions

    def folded(self, semantic_head: nn.Linear) -> tuple[Tensor, Tensor]:
        """(W_p W_sem, W_p b_sem + b_p): W_p u as one d x d map of h. Without gradients
        (inference) it is computed once and reused until a weight changes (in-place updates and
        ``load_state_dict`` bump a tensor's version; moving it changes its storage)."""
        tensors = (self.proj.weight, self.proj.bias, semantic_head.weight, semantic_head.bias)
        key = tuple((t._version, t.data_ptr(), t.dtype, t.device) for t in tensors if t is not None)
        if not torch.is_grad_enabled() and self._folded is not None and self._folded[0] == key:
            return self._folded[1], self._folded[2]
        weight = self.proj.weight @ semantic_head.weight
        bias = self.proj.bias if semantic_head.bias is None else self.proj.weight @ semantic_head.bias + self.proj.bias
        if not torch.is_grad_enabled():
            self._folded = (key, weight, bias)
        return weight, bias

    def forward(self, h: Tensor, mask: Tensor, semantic_head: nn.Linear) -> Tensor:
        """h (B, L, d), mask (B, L), the semantic head u = W_sem h + b (d -> Dt) -> (B, L, d),
        zero at padding. W_p u is one d x d map of h, (W_p W_sem) h + W_p b + b_p, so u (Dt wide,
        3x the hidden size for MiniLM) is never built: the same values and gradients for a third
        of the cost."""
        p = F.linear(h, *self.folded(semantic_head))  # W_p u
        g = torch.sigmoid(self.gate(torch.cat([h, p], dim=-1)))
        return zero_padded(self.drop(self.norm(h + g * p)), mask)
