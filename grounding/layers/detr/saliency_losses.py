"""QD-DETR's saliency losses on the per-snippet saliency scores s (B, L) of the true query and
s^- (B, L) of a query from another video run against the same video (the "negative pair"):

- ``negative_pair_loss``: every snippet is irrelevant to the other video's query,
  sum_i -log(1 - sigmoid(s^-_i)) over valid snippets, mean over queries;
- ``rank_contrastive_loss``: for each level r = 1..``levels`` that some snippet reaches, a
  contrastive term over the 2L scores [s; s^-] / tau (negatives labelled 0): the mean
  log-softmax of the snippets with label >= r, rows without one contribute 0; summed over r,
  divided by ``coef`` (QD-DETR: 11 levels, tau 0.5, coef 12; labels are 0/1 inside the moment
  for Charades / TACoS, the summed annotator score 0-12 for QVHighlights);
- ``margin_loss``: max(0, margin + s_neg - s_pos) over pairs (pos: a snippet of the moment, neg:
  one outside it), times 2 (QD-DETR's normalisation); ``sample_pairs`` draws the pairs.

Without a negative query (a batch of one video) ``rank_contrastive_loss`` takes ``neg=None`` and
contrasts the true query's own snippets only.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

PADDED_SCORE = -1.0e3  # QD-DETR's fill for invalid snippets before the temperature


def negative_pair_loss(neg_scores: Tensor, mask: Tensor) -> Tensor:
    """neg_scores, mask (B, L) -> scalar; -log(1 - sigmoid(x)) is softplus(x)."""
    return (F.softplus(neg_scores.float()) * mask).sum(dim=1).mean()


def rank_contrastive_loss(
    scores: Tensor,
    labels: Tensor,
    mask: Tensor,
    neg_scores: Tensor | None = None,
    tau: float = 0.5,
    levels: int = 11,
    coef: float = 12.0,
) -> Tensor:
    """scores, labels, mask (B, L) (neg_scores (B, L) or None) -> scalar."""
    mask = mask.bool()
    if neg_scores is not None:
        scores = torch.cat([scores, neg_scores], dim=1)
        labels = torch.cat([labels, torch.zeros_like(labels)], dim=1)
        mask = torch.cat([mask, mask], dim=1)
    logits = torch.where(mask, scores.float(), PADDED_SCORE) / tau
    logits = logits - logits.max(dim=1, keepdim=True).values.detach()
    log_prob = logits - torch.log(logits.exp().sum(dim=1, keepdim=True) + 1e-6)
    total = scores.new_zeros((), dtype=torch.float32)
    for r in range(1, levels + 1):
        positive = (labels >= r) & mask
        if not bool(positive.any()):
            continue
        rows = positive.any(dim=1)
        mean_log_prob = (positive * log_prob).sum(dim=1) / (positive.sum(dim=1) + 1e-6)
        total = total + (-mean_log_prob * rows).mean()
    return total / coef


def sample_pairs(
    labels: Tensor, mask: Tensor, n_pairs: int = 2, generator: torch.Generator | None = None
) -> tuple[Tensor, Tensor, Tensor]:
    """Per row ``n_pairs`` positive snippets (label > 0) and as many negatives (label 0), drawn
    uniformly with replacement among the valid snippets: pos (B, P), neg (B, P) long and ``rows``
    (B,) bool, False for a row without a positive or without a negative (its indices are 0)."""
    valid = mask.bool()
    pos_w = ((labels > 0) & valid).float()
    neg_w = ((labels <= 0) & valid).float()
    rows = (pos_w.sum(1) > 0) & (neg_w.sum(1) > 0)
    safe = lambda w: torch.where(rows[:, None], w, torch.ones_like(w))  # noqa: E731
    pos = torch.multinomial(safe(pos_w), n_pairs, replacement=True, generator=generator)
    neg = torch.multinomial(safe(neg_w), n_pairs, replacement=True, generator=generator)
    return pos * rows[:, None], neg * rows[:, None], rows


def margin_loss(scores: Tensor, pos: Tensor, neg: Tensor, rows: Tensor | None = None, margin: float = 0.2) -> Tensor:
    """scores (B, L), pos / neg (B, P) snippet indices, rows (B,) bool (None: all) -> scalar."""
    rows = torch.ones(scores.shape[0], dtype=torch.bool, device=scores.device) if rows is None else rows
    if not bool(rows.any()):
        return scores.sum() * 0.0
    s = scores.float()
    hinge = (margin + s.gather(1, neg) - s.gather(1, pos)).clamp(min=0)[rows]
    return hinge.sum() / hinge.numel() * 2
