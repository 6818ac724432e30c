"""The Hungarian matcher of the DETR family: each ground-truth window is assigned one decoder
query, minimising the summed cost (Moment-DETR / QD-DETR / MESM):

    C[q, t] = w_span * |span_q - gt_t|_1  -  w_giou * gIoU(span_q, gt_t)  -  w_class * p_q(foreground)

(L1 on normalised (centre, width), gIoU on (start, end)), solved per query of the batch with
``scipy.optimize.linear_sum_assignment``. A query with one window (Charades-STA, TACoS,
ActivityNet) gets the single cheapest decoder query; one with several (QVHighlights) a
one-to-one assignment of min(Q, n) pairs. Ground truth comes padded, as ``collate`` gives a
``set`` field: spans (B, N, 2) with a mask (B, N)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from scipy.optimize import linear_sum_assignment
from torch import Tensor

from grounding.layers.detr.heads import FOREGROUND
from grounding.layers.detr.span_ops import cw_to_se, pairwise_generalized_iou

Match = tuple[Tensor, Tensor]  # (decoder query indices, ground-truth indices), both (M,) long


@dataclass(frozen=True)
class HungarianMatcher:
    span_weight: float = 10.0
    giou_weight: float = 1.0
    class_weight: float = 4.0

    def costs(self, logits: Tensor, spans: Tensor, targets: Tensor, target_mask: Tensor) -> list[np.ndarray]:
        """Per batch row, its (Q, n_i) cost matrix (float64, on the CPU)."""
        b, n_q = spans.shape[:2]
        valid = targets[target_mask].float()  # (T, 2): every row's windows, in order
        if valid.shape[0] == 0:
            return [np.zeros((n_q, 0)) for _ in range(b)]
        flat = spans.reshape(-1, 2).float()
        prob = logits.float().softmax(-1)[..., FOREGROUND].reshape(-1, 1)
        cost = (
            self.span_weight * torch.cdist(flat, valid, p=1)
            - self.giou_weight * pairwise_generalized_iou(cw_to_se(flat), cw_to_se(valid))
            - self.class_weight * prob
        )
        cost = cost.view(b, n_q, -1).detach().cpu().double().numpy()
        sizes = target_mask.sum(dim=1).tolist()
        starts = np.cumsum([0, *sizes])
        return [cost[i, :, starts[i] : starts[i + 1]] for i in range(b)]

    @torch.no_grad()
    def __call__(self, logits: Tensor, spans: Tensor, targets: Tensor, target_mask: Tensor) -> list[Match]:
        """logits (B, Q, 2), spans (B, Q, 2) (centre, width), targets (B, N, 2) (centre, width),
        target_mask (B, N) -> per row the matched (query indices, target indices), sorted by
        query. Targets are the masked entries of each row, in their order."""
        out = []
        for cost in self.costs(logits, spans, targets, target_mask):
            rows, cols = linear_sum_assignment(cost) if cost.shape[1] else (np.zeros(0, int), np.zeros(0, int))
            out.append((torch.as_tensor(rows, dtype=torch.long), torch.as_tensor(cols, dtype=torch.long)))
        return out
