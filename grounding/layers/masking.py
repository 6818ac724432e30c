"""Masks shared by every layer: a masked softmax that gives zeros (not a uniform spread) when a
row has no valid entry, and the fill value for masked output logits.

Masks are bool tensors, True on valid positions. Padding is a suffix (valid positions first), as
the feature stores and collate produce it; the unidirectional LSTMs of the span predictor rely on
that so padded positions never reach valid ones."""

from __future__ import annotations

import torch
from torch import Tensor

# Fill value for masked output logits: exp() of it underflows to exactly 0 in float32 and it
# still fits in float16 (AMP), and adding two of them stays finite.
MASKED_LOGIT = -1.0e4


def masked_softmax(scores: Tensor, mask: Tensor, dim: int = -1) -> Tensor:
    """Softmax over ``dim`` ignoring positions where ``mask`` is False (``mask`` broadcasts to
    ``scores``). Rows with no valid position come out all zeros."""
    filled = scores.masked_fill(~mask, torch.finfo(scores.dtype).min)
    # Masked entries of a row with a valid entry are already exactly 0 (exp underflows), so only
    # empty rows need zeroing: multiply by the reduced mask, not the full-size one (cheaper).
    return torch.softmax(filled, dim=dim) * mask.any(dim=dim, keepdim=True)


def mask_logits(logits: Tensor, mask: Tensor) -> Tensor:
    """Set logits at padded positions to ``MASKED_LOGIT``."""
    return logits.masked_fill(~mask, MASKED_LOGIT)


def zero_padded(x: Tensor, mask: Tensor) -> Tensor:
    """Zero the features (B, L, D) of padded positions (mask (B, L)). On CPU an unpadded batch
    (every single-query call, most full-length batches) skips the multiply; the check would
    cost a device sync elsewhere."""
    if x.device.type == "cpu" and bool(mask.all()):
        return x
    return x * mask.unsqueeze(-1).to(x.dtype)
