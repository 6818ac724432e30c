"""TEA's training losses, Eq. (15-17).

    L_vmr = -log sum_{i in tau_s} p^s_i - log sum_{i in tau_e} p^e_i        (15)
    L_h   = BCE(y^h, h)                                                      (16)
    L     = L_vmr + lambda L_h                                               (17)

p is the softmax of the start/end logits over valid snippets; the candidate endpoint sets
tau_s, tau_e are the positions where start_label / end_label > 0 (grounding/targets.py builds
them). Each term is averaged over the batch (L_h over valid snippets)."""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import Tensor

from grounding.data.collate import per_query
from grounding.layers.masking import MASKED_LOGIT


def _candidate_nll(logits: Tensor, label: Tensor, mask: Tensor, name: str) -> Tensor:
    candidates = (label > 0) & mask
    empty = ~candidates.any(dim=1)
    if bool(empty.any()):
        rows = empty.nonzero().flatten().tolist()
        msg = f"{name}: no candidate position inside the valid snippets for batch rows {rows}"
        raise ValueError(msg)
    log_p = torch.log_softmax(logits.masked_fill(~mask, MASKED_LOGIT), dim=1)
    return -torch.logsumexp(log_p.masked_fill(~candidates, MASKED_LOGIT), dim=1)  # (B,)


def vmr_loss(start_logits: Tensor, end_logits: Tensor, start_label: Tensor, end_label: Tensor, mask: Tensor) -> Tensor:
    """Eq. (15), averaged over the batch. Logits and labels (B, L), mask (B, L) bool."""
    start = _candidate_nll(start_logits, start_label, mask, "start_label")
    end = _candidate_nll(end_logits, end_label, mask, "end_label")
    return (start + end).mean()


def highlight_loss(logits: Tensor, label: Tensor, mask: Tensor) -> Tensor:
    """Eq. (16): binary cross-entropy on valid snippets, averaged over them."""
    weight = mask.to(logits.dtype)
    per_snippet = F.binary_cross_entropy_with_logits(logits, label.to(logits.dtype), reduction="none")
    return (per_snippet * weight).sum() / weight.sum().clamp(min=1.0)


def grounding_loss(
    outputs: dict[str, Tensor],
    batch: dict[str, Tensor],
    highlight_weight: float,
    highlight_keys: Sequence[str] = ("highlight_logits",),
) -> dict[str, Tensor]:
    """Eq. (17): ``{"total", "vmr", "highlight"}``. The highlight term is the mean of Eq. (16)
    over the foreground heads named in ``highlight_keys`` (none: the term is 0)."""
    mask = per_query(batch["video_mask"], batch)  # (B, L) also when the batch holds each video once
    vmr = vmr_loss(outputs["start_logits"], outputs["end_logits"], batch["start_label"], batch["end_label"], mask)
    parts = [highlight_loss(outputs[k], batch["highlight_label"], mask) for k in highlight_keys]
    highlight = torch.stack(parts).mean() if parts else vmr.new_zeros(())
    return {"total": vmr + highlight_weight * highlight, "vmr": vmr, "highlight": highlight}
