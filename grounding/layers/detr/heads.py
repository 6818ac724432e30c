"""The prediction heads of the DETR family on the decoder / encoder outputs:

- ``ClassHead``: 2-way logits per decoder query, index 0 = foreground (a moment), 1 = no moment;
- ``SpanHead``: (centre, width) in [0, 1] = sigmoid(MLP(h) + logit(reference anchor)), so each
  layer predicts an offset of the anchor it started from (DAB-DETR / QD-DETR);
- ``SaliencyHead``: one score per snippet, the scaled dot product of the projected local memory
  with the projected global token (QD-DETR): (W1 m_i) . (W2 g) / sqrt(d), masked.
"""

from __future__ import annotations

import math

from torch import Tensor, nn

from grounding.layers.detr.span_ops import inverse_sigmoid
from grounding.layers.masking import mask_logits
from grounding.layers.mlp import MLP

FOREGROUND = 0  # class index of "this query is a moment"


class ClassHead(nn.Module):
    def __init__(self, dim: int) -> None:
        super().__init__()
        self.linear = nn.Linear(dim, 2)

    def forward(self, hs: Tensor) -> Tensor:
        """hs (..., Q, d) -> logits (..., Q, 2)."""
        return self.linear(hs)


class SpanHead(nn.Module):
    def __init__(self, dim: int, n_layers: int = 3) -> None:
        super().__init__()
        self.mlp = MLP(dim, dim, 2, n_layers=n_layers)

    def forward(self, hs: Tensor, references: Tensor) -> Tensor:
        """hs (..., Q, d), references (..., Q, 2) in [0, 1] -> spans (..., Q, 2) (centre, width)."""
        return (self.mlp(hs) + inverse_sigmoid(references)).sigmoid()


class SaliencyHead(nn.Module):
    def __init__(self, dim: int) -> None:
        super().__init__()
        self.local_proj = nn.Linear(dim, dim)
        self.global_proj = nn.Linear(dim, dim)

    def forward(self, local: Tensor, global_: Tensor, mask: Tensor) -> Tensor:
        """local (B, L, d), global (B, d), mask (B, L) -> scores (B, L), MASKED_LOGIT at padding."""
        scores = (self.local_proj(local) * self.global_proj(global_).unsqueeze(1)).sum(-1) / math.sqrt(local.shape[-1])
        return mask_logits(scores, mask)
