"""Span decoding: the k best (start, end) snippet pairs under p_s[i] * p_e[j], i <= j.

p_s, p_e are the softmax of the start / end logits over valid snippets; the score matrix is
restricted to the upper triangle, to valid snippets and, if given, to spans of at most
``max_len`` snippets (j - i + 1 <= max_len). Indices are inclusive snippet indices; the caller
converts them to seconds (snippet i covers [i, i + 1) * duration / L)."""

from __future__ import annotations

import torch
from torch import Tensor

from grounding.layers.masking import masked_softmax


def span_scores(start_logits: Tensor, end_logits: Tensor, mask: Tensor, max_len: int | None = None) -> Tensor:
    """(B, L, L) matrix of p_s[i] * p_e[j]; -1 where (i, j) is not a valid span."""
    p_s = masked_softmax(start_logits, mask, dim=-1)
    p_e = masked_softmax(end_logits, mask, dim=-1)
    scores = p_s.unsqueeze(2) * p_e.unsqueeze(1)
    length = start_logits.shape[1]
    idx = torch.arange(length, device=start_logits.device)
    offset = idx.unsqueeze(0) - idx.unsqueeze(1)  # j - i
    allowed = offset >= 0
    if max_len is not None:
        allowed = allowed & (offset < max_len)
    valid = allowed.unsqueeze(0) & mask.unsqueeze(2) & mask.unsqueeze(1)
    return scores.masked_fill(~valid, -1.0)


def topk_spans(
    start_logits: Tensor, end_logits: Tensor, mask: Tensor, k: int = 5, max_len: int | None = None
) -> tuple[Tensor, Tensor]:
    """spans_idx (B, k, 2) long (start, end inclusive) and scores (B, k), best first.

    k is capped at the number of upper-triangle cells L (L + 1) / 2. A row with fewer valid spans
    than k (a very short video) is filled with copies of its best span at score 0.0."""
    if k < 1:
        msg = f"topk_spans: k must be >= 1, got {k}"
        raise ValueError(msg)
    if max_len is not None and max_len < 1:
        msg = f"topk_spans: max_len must be >= 1 or None, got {max_len}"
        raise ValueError(msg)
    scores = span_scores(start_logits, end_logits, mask, max_len)
    b, length, _ = scores.shape
    k = min(k, length * (length + 1) // 2)
    top, flat = scores.view(b, -1).topk(k, dim=1)
    spans = torch.stack([flat // length, flat % length], dim=-1)
    filler = top < 0
    spans = torch.where(filler.unsqueeze(-1), spans[:, :1].expand_as(spans), spans)
    return spans, top.clamp(min=0.0)


def span_windows(
    start_logits: Tensor, end_logits: Tensor, mask: Tensor, duration: Tensor, k: int = 5
) -> list[list[list[float]]]:
    """Top-``k`` ``[start, end, score]`` windows in seconds per row, best first. Snippet ``i`` of a
    video with ``n`` valid snippets covers ``[i, i + 1) * duration / n``, so the span ``(s, e)``
    (inclusive) is the window ``[s * d / n, (e + 1) * d / n]``, its end capped at the duration."""
    spans, scores = topk_spans(start_logits.float(), end_logits.float(), mask, k=k)
    n = mask.sum(dim=1).clamp(min=1).to(torch.float64)
    duration = duration.to(spans.device, torch.float64)
    step = duration / n.to(spans.device)
    start = spans[..., 0].to(torch.float64) * step[:, None]
    end = torch.minimum((spans[..., 1].to(torch.float64) + 1.0) * step[:, None], duration[:, None])
    rows = torch.stack([start, end, scores.to(torch.float64)], dim=-1).cpu().tolist()
    return [[[round(s, 4), round(e, 4), round(p, 6)] for s, e, p in q] for q in rows]
