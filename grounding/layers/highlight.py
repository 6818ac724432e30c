"""The foreground (highlight) head h of TEA Eq. (10): h = sigmoid(Conv1D(V || q)), one score per
snippet saying whether it lies inside the queried moment. It returns logits (masked); the span
predictor gates its input with sigmoid(logits) and Eq. (16) supervises them with BCE."""

from __future__ import annotations

import torch
from torch import Tensor, nn

from grounding.layers.masking import mask_logits, zero_padded


class HighlightHead(nn.Module):
    def __init__(self, dim: int, kernel_size: int = 1) -> None:
        super().__init__()
        if kernel_size % 2 != 1:
            msg = f"highlight head: kernel_size must be odd, got {kernel_size}"
            raise ValueError(msg)
        self.conv = nn.Conv1d(2 * dim, 1, kernel_size, padding=kernel_size // 2)

    def forward(self, v: Tensor, v_mask: Tensor, sentence: Tensor) -> Tensor:
        """v (B, L, d), v_mask (B, L), sentence q (B, d) -> logits (B, L)."""
        if self.conv.kernel_size[0] == 1:  # a 1-wide Conv1D is w_v . V_l + w_q . q + b: no concat
            w = self.conv.weight[0, :, 0]
            d = v.shape[-1]
            logits = zero_padded(v, v_mask) @ w[:d] + (sentence @ w[d:] + self.conv.bias).unsqueeze(1)
            return mask_logits(logits, v_mask)
        x = torch.cat([v, sentence.unsqueeze(1).expand_as(v)], dim=-1)  # V || q
        x = zero_padded(x, v_mask)
        logits = self.conv(x.transpose(1, 2)).squeeze(1)
        return mask_logits(logits, v_mask)
