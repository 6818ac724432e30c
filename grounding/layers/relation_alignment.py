"""MASRA's LRCA (Local Relational Consistency Alignment, design note section 2.2): the model's
temporal similarity structure must agree, locally, with the clip captions' textual one.

Works on the caption grid (a caption window need not match a snippet): a relation head's unit
vectors ``r`` are pooled into each caption window with overlap weights
(``grounding.layers.span_pool``) and re-normalised, ``S^v = r_hat r_hat^T``; the captions' unit
sentence vectors give ``S^t = c c^T``. Only a local neighbourhood of each caption is compared:
the other valid captions whose window centre lies within ``window_s`` seconds.

- ``kl`` (default): mean over captions with at least 2 neighbours of
  ``KL(softmax_N(S^t / tau) || softmax_N(S^v / tau))``, the relation-distillation form.
- ``mse``: the mean of ``(S^v - S^t)^2`` over neighbour pairs (similarity-preserving form).

Ours (the design note uses index offsets ``0 < |i - j| <= ceil(window_s / clip_len)``): the
neighbourhood is measured in seconds between window centres, so a caption lost to an error row
leaves a gap in time instead of pulling a farther window into the neighbourhood, and windows of
any length work. Centring ``S^t`` per row (the note's ``lrca_center``) is left out: a softmax
does not change when a row is shifted, so for ``kl`` it is a no-op.
"""

from __future__ import annotations

from typing import Literal

import torch
import torch.nn.functional as F
from torch import Tensor

from grounding.layers.masking import mask_logits, masked_softmax
from grounding.layers.span_pool import overlap_weights, pool_spans

RelationLoss = Literal["kl", "mse"]


def neighbourhood(spans: Tensor, valid: Tensor, window_s: float) -> Tensor:
    """(B, N, N) bool: valid pairs i != j whose window centres are at most ``window_s`` apart."""
    centre = spans.mean(dim=-1)
    near = (centre[:, :, None] - centre[:, None, :]).abs() <= window_s + 1e-6
    eye = torch.eye(spans.shape[1], dtype=torch.bool, device=spans.device)
    return near & valid[:, :, None] & valid[:, None, :] & ~eye


def relation_consistency(
    video_rel: Tensor, text_rel: Tensor, neighbours: Tensor, temperature: float = 0.1, kind: RelationLoss = "kl"
) -> Tensor:
    """The loss between two (B, N, N) similarity matrices on the ``neighbours`` mask (0 when
    no caption has enough neighbours)."""
    if kind == "mse":
        diff = (video_rel - text_rel).square()
        return (diff * neighbours).sum() / neighbours.sum().clamp(min=1)
    rows = neighbours.sum(dim=-1) >= 2  # (B, N)
    p_text = masked_softmax(text_rel / temperature, neighbours)
    log_video = torch.log_softmax(mask_logits(video_rel / temperature, neighbours), dim=-1)  # finite everywhere
    log_text = torch.log(p_text.clamp(min=1e-12))
    kl = (p_text * (log_text - log_video) * neighbours).sum(dim=-1)
    return (kl * rows).sum() / rows.sum().clamp(min=1)


def relation_alignment_loss(
    relation: Tensor,
    video_mask: Tensor,
    captions: Tensor,
    caption_mask: Tensor,
    caption_spans: Tensor,
    duration: Tensor,
    window_s: float = 8.0,
    temperature: float = 0.1,
    kind: RelationLoss = "kl",
) -> Tensor:
    """L_LRCA over distinct videos: relation (V, L, dr) head outputs, captions (V, Nc, Dt) with
    mask (V, Nc) and spans (V, Nc, 2) in seconds, duration (V,)."""
    weights, valid = overlap_weights(caption_spans, caption_mask, duration, video_mask)
    pooled = F.normalize(pool_spans(relation, weights), dim=-1)  # r_hat_j
    text = F.normalize(captions.to(pooled.dtype), dim=-1)
    video_rel, text_rel = pooled @ pooled.transpose(1, 2), text @ text.transpose(1, 2)
    loss = relation_consistency(video_rel, text_rel, neighbourhood(caption_spans, valid, window_s), temperature, kind)
    return loss + relation.sum() * 0.0  # stays in the graph when no caption has neighbours
