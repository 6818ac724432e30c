"""Pool snippet features into timed spans (events, caption windows) with overlap weights.

A video of ``duration`` seconds whose ``n`` valid snippets split it evenly gives snippet ``t``
the period ``[t, t + 1) * duration / n`` (the convention of ``grounding.data.align``). A span
``[s, e]`` (seconds, clipped to the video) weighs each snippet by the seconds they share,
normalised over the snippets: a span inside one snippet puts all its weight there, a span across
a boundary splits it by overlap. Spans that are masked, or empty after clipping (``e <= s``),
get no weights and are reported invalid. Used by MASRA's ESTA (events) and LRCA (clip captions).
"""

from __future__ import annotations

import torch
from torch import Tensor


def overlap_weights(spans: Tensor, span_mask: Tensor, duration: Tensor, video_mask: Tensor) -> tuple[Tensor, Tensor]:
    """spans (B, N, 2) in seconds, span_mask (B, N) bool, duration (B,), video_mask (B, L) bool
    -> (weights (B, N, L), each valid span's row summing to 1 over valid snippets; valid (B, N))."""
    length = video_mask.shape[1]
    n = video_mask.sum(dim=1).clamp(min=1).to(spans.dtype)  # valid snippets per row
    duration = duration.to(spans.dtype)
    period = duration / n  # (B,)
    lo = torch.arange(length, device=spans.device, dtype=spans.dtype)[None, :] * period[:, None]  # (B, L)
    hi = lo + period[:, None]
    start = torch.minimum(spans[..., 0].clamp(min=0.0), duration[:, None])  # (B, N), clipped to the video
    end = torch.minimum(spans[..., 1].clamp(min=0.0), duration[:, None])
    overlap = torch.minimum(end[..., None], hi[:, None, :]) - torch.maximum(start[..., None], lo[:, None, :])
    overlap = overlap.clamp(min=0.0) * video_mask[:, None, :].to(spans.dtype)  # (B, N, L)
    total = overlap.sum(dim=-1)
    valid = span_mask & (end > start) & (total > 0)
    weights = torch.where(valid[..., None], overlap / total.clamp(min=1e-12)[..., None], 0.0)
    return weights, valid


def pool_spans(x: Tensor, weights: Tensor) -> Tensor:
    """x (B, L, D) snippet features, weights (B, N, L) from ``overlap_weights`` -> (B, N, D)."""
    return torch.bmm(weights.to(x.dtype), x)
