"""The DETR set criterion for moments (Moment-DETR / QD-DETR / MESM), after Hungarian matching:

- ``span``: L1 between matched (centre, width) pairs, mean over pairs and both coordinates;
- ``giou``: 1 - gIoU of the matched (start, end) pairs, mean over pairs;
- ``label``: 2-way cross-entropy over every decoder query: matched queries are foreground (class
  0), the rest background (class 1) with class weight ``eos_coef``; a plain mean over queries
  (not normalised by the weights, as released).

With ``aux`` on, every decoder layer but the last is matched again and scored the same way;
its parts are logged as ``aux<l>_span`` etc. ``__call__`` returns the unweighted parts by name
and ``weighted`` the weighted sum."""

from __future__ import annotations

from dataclasses import dataclass, field

import torch
import torch.nn.functional as F
from torch import Tensor

from grounding.layers.detr.heads import FOREGROUND
from grounding.layers.detr.matcher import HungarianMatcher, Match
from grounding.layers.detr.span_ops import cw_to_se, generalized_span_iou


@dataclass(frozen=True)
class SetCriterion:
    matcher: HungarianMatcher = field(default_factory=HungarianMatcher)
    span_weight: float = 10.0
    giou_weight: float = 1.0
    label_weight: float = 4.0
    eos_coef: float = 0.1

    def layer_losses(self, logits: Tensor, spans: Tensor, targets: Tensor, target_mask: Tensor) -> dict[str, Tensor]:
        """span / giou / label of one decoder layer: logits (B, Q, 2), spans (B, Q, 2)."""
        matches = self.matcher(logits, spans, targets, target_mask)
        batch_idx, query_idx, target_rows = self._flatten(matches, target_mask)
        src = spans[batch_idx, query_idx]  # (M, 2)
        tgt = targets[target_rows[0], target_rows[1]].to(src.dtype)
        if src.shape[0]:
            span = F.l1_loss(src, tgt)
            giou = (1.0 - generalized_span_iou(cw_to_se(src), cw_to_se(tgt))).mean()
        else:  # no ground truth in the batch: zero, still on the graph
            span = giou = spans.sum() * 0.0
        classes = torch.full(logits.shape[:2], 1 - FOREGROUND, dtype=torch.long, device=logits.device)
        classes[batch_idx, query_idx] = FOREGROUND
        weight = logits.new_ones(2)
        weight[1 - FOREGROUND] = self.eos_coef
        label = F.cross_entropy(logits.transpose(1, 2), classes, weight=weight, reduction="none").mean()
        return {"span": span, "giou": giou, "label": label}

    @staticmethod
    def _flatten(matches: list[Match], target_mask: Tensor) -> tuple[Tensor, Tensor, tuple[Tensor, Tensor]]:
        """Batch / query indices of the matched predictions and (row, slot) of their targets."""
        device = target_mask.device
        slots = [torch.nonzero(m, as_tuple=True)[0] for m in target_mask.cpu()]
        batch = torch.cat([torch.full_like(q, i) for i, (q, _) in enumerate(matches)])
        query = torch.cat([q for q, _ in matches])
        slot = torch.cat([slots[i][t] for i, (_, t) in enumerate(matches)])
        return batch.to(device), query.to(device), (batch.to(device), slot.to(device))

    def __call__(
        self,
        logits: Tensor,
        spans: Tensor,
        targets: Tensor,
        target_mask: Tensor,
        aux: list[tuple[Tensor, Tensor]] | None = None,
    ) -> dict[str, Tensor]:
        """Final layer (logits, spans) and optional aux layers [(logits, spans), ...]."""
        out = self.layer_losses(logits, spans, targets, target_mask)
        for i, (aux_logits, aux_spans) in enumerate(aux or []):
            out |= {f"aux{i}_{k}": v for k, v in self.layer_losses(aux_logits, aux_spans, targets, target_mask).items()}
        return out

    def weighted(self, parts: dict[str, Tensor]) -> Tensor:
        """Sum of every span / giou / label part (final and aux) times its weight."""
        weights = {"span": self.span_weight, "giou": self.giou_weight, "label": self.label_weight}
        return sum(
            weights[name.rsplit("_", 1)[-1]] * value
            for name, value in parts.items()
            if name.rsplit("_", 1)[-1] in weights
        )
