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
        """One (2d, d) affine map of h giving [W_p u ; W_g [h ; W_p u]] (the projection and the
        gate's pre-activation): u = W_sem h + b_sem is affine in h, and so is W_p u. Without
        gradients (inference) it is computed once and reused until a weight changes (in-place
        updates and ``load_state_dict`` bump a tensor's version; moving it changes its storage). Weights
        made under ``torch.inference_mode`` have no version counter: never cached."""
        tensors = (
            self.proj.weight,
            self.proj.bias,
            self.gate.weight,
            self.gate.bias,
            semantic_head.weight,
            semantic_head.bias,
        )
        present = [t for t in tensors if t is not None]
        cacheable = not torch.is_grad_enabled() and not any(t.is_inference() for t in present)  # no version counter
        key = tuple((t._version, t.data_ptr(), t.dtype, t.device) for t in present) if cacheable else ()
        if cacheable and self._folded is not None and self._folded[0] == key:
            return self._folded[1], self._folded[2]
        dim = self.proj.weight.shape[0]
        w_p = self.proj.weight @ semantic_head.weight  # W_p W_sem (d, d)
        b_p = self.proj.bias if semantic_head.bias is None else self.proj.weight @ semantic_head.bias + self.proj.bias
        g_h, g_p = self.gate.weight[:, :dim], self.gate.weight[:, dim:]
        weight = torch.cat([w_p, g_h + g_p @ w_p])  # (2d, d)
        bias = torch.cat([b_p, self.gate.bias + g_p @ b_p])
        if cacheable:
            self._folded = (key, weight, bias)
        return weight, bias

    def forward(self, h: Tensor, mask: Tensor, semantic_head: nn.Linear) -> Tensor:
        """h (B, L, d), mask (B, L), the semantic head u = W_sem h + b (d -> Dt) -> (B, L, d),
        zero at padding. u (Dt wide, 3x the hidden size for MiniLM) is never built: W_p u and the
        gate's input are one folded map of h (``folded``), the same values and gradients for
        about half the cost."""
        p, g = F.linear(h, *self.folded(semantic_head)).chunk(2, dim=-1)  # W_p u, W_g [h ; W_p u]
        return zero_padded(self.drop(self.norm(h + torch.sigmoid(g) * p)), mask)
