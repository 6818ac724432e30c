"""MASRA's ESTA (Event Semantic Temporal Alignment, design note section 2.1): the temporal context
of each event's span must name that event.

Each event's span pools a semantic head's per-snippet vectors ``u`` with overlap weights
(``grounding.layers.span_pool``); the pooled vector and the event description's frozen sentence
vector are aligned by a symmetric InfoNCE over every valid event of the batch (CLIP's loss,
temperature 0.07 as CG-DETR and CLIP use). The other events of the *same* video are negatives,
which is what "span-level separability" asks for. MLLMs repeat themselves, so a pair of
different events whose descriptions are near duplicates (cosine above ``duplicate_cos``) is taken
out of the negatives on both sides. The caller passes each video once (a batch that holds a
video for each of its queries would otherwise make its events false negatives of themselves).
"""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import Tensor

from grounding.layers.span_pool import overlap_weights, pool_spans


def symmetric_info_nce(
    pooled: Tensor, targets: Tensor, temperature: float = 0.07, duplicate_cos: float = 0.95
) -> Tensor:
    """pooled (N, D) and targets (N, D), row i of each a positive pair -> the mean of the two
    cross-entropies (pooled -> targets, targets -> pooled); 0 for N = 0. Off-diagonal pairs whose
    targets have cosine > ``duplicate_cos`` are not negatives."""
    if pooled.shape[0] == 0:
        return pooled.sum() * 0.0
    e, z = F.normalize(pooled, dim=-1), F.normalize(targets, dim=-1)
    logits = e @ z.T / temperature
    eye = torch.eye(len(z), dtype=torch.bool, device=z.device)
    duplicate = (z @ z.T > duplicate_cos) & ~eye
    logits = logits.masked_fill(duplicate, float("-inf"))
    labels = torch.arange(len(z), device=z.device)
    return 0.5 * (F.cross_entropy(logits, labels) + F.cross_entropy(logits.T, labels))


def event_alignment_loss(
    context: Tensor,
    video_mask: Tensor,
    events: Tensor,
    event_mask: Tensor,
    event_spans: Tensor,
    duration: Tensor,
    temperature: float = 0.07,
    duplicate_cos: float = 0.95,
    head: Callable[[Tensor], Tensor] | None = None,
) -> Tensor:
    """L_ESTA over distinct videos: context (V, L, D) per-snippet features, events (V, Ne, Dt)
    sentence vectors with mask (V, Ne) and spans (V, Ne, 2) in seconds, duration (V,).

    ``head``: the semantic head u_t = head(context_t), an affine map, applied after pooling
    (sum_t W_kt head(c_t) = head(sum_t W_kt c_t) since a valid event's weights sum to 1), so the
    (V, L, Dt) per-snippet vectors are never built; None: ``context`` already holds u."""
    weights, valid = overlap_weights(event_spans, event_mask, duration, video_mask)
    pooled = pool_spans(context, weights)[valid]  # e_k = sum_t W_kt u_t
    if head is not None:
        pooled = head(pooled)
    loss = symmetric_info_nce(pooled, events[valid].to(pooled.dtype), temperature, duplicate_cos)
    return loss + context.sum() * 0.0  # stays in the graph when no event is valid
