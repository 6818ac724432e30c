"""Soft temporal masks over a query's snippets, our stand-in for Bridge-STG's explicit temporal
alignment (ETA, notes 2.2.2): the bridge builder adds ``log(m + eps)`` to its attention scores on
the temporal states, so the bridging queries read mostly the moment.

- ``inside_probability``: from the temporal branch's start / end distributions, the probability
  that snippet t lies inside the predicted span, ``P(start <= t) * P(end >= t)`` (start and end
  taken independently). Unlike the argmax span it is differentiable, so the bridge's gradient
  reaches the temporal branch (end-to-end training).
- ``soft_box``: a span in seconds (the cached MLLM prior's) as a box over the snippets with
  Gaussian-softened edges (sigma in snippets): 1 inside, ``exp(-d^2 / 2 sigma^2)`` at a distance d
  outside.
"""

from __future__ import annotations

import torch
from torch import Tensor

from grounding.layers.masking import masked_softmax


def inside_probability(start_logits: Tensor, end_logits: Tensor, mask: Tensor) -> Tensor:
    """start / end logits (B, L), mask (B, L) bool -> (B, L) in [0, 1], 0 at padding."""
    p_s = masked_softmax(start_logits.float(), mask)
    p_e = masked_softmax(end_logits.float(), mask)
    started = p_s.cumsum(dim=1)  # P(start <= t)
    not_ended = (p_e.flip(1).cumsum(dim=1)).flip(1)  # P(end >= t)
    return (started * not_ended).clamp(0.0, 1.0) * mask


def soft_box(spans: Tensor, duration: Tensor, mask: Tensor, sigma: float = 1.0) -> Tensor:
    """spans (B, 2) seconds, duration (B,), mask (B, L) bool -> (B, L): snippet i's centre
    ``(i + 0.5) * duration / n`` (n valid snippets) measured against the span in snippet units."""
    n = mask.sum(dim=1, keepdim=True).clamp(min=1).to(spans.dtype)
    step = duration[:, None].to(spans.dtype) / n  # seconds per snippet
    centre = (torch.arange(mask.shape[1], device=spans.device, dtype=spans.dtype)[None, :] + 0.5) * step
    before = (spans[:, :1] - centre).clamp(min=0) / step
    after = (centre - spans[:, 1:]).clamp(min=0) / step
    distance = before + after
    return torch.exp(-(distance**2) / (2 * sigma**2)) * mask
