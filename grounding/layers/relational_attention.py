"""MASRA's second-order relational attention (design note section 2.4): self-attention over the
snippets whose scores are biased by how alike two snippets' relation profiles are.

From relation vectors ``r = norm(W_rel x)`` of the layer's own input (the ones LRCA shapes),
first order ``S = r r^T`` over valid snippets; second order ``S2_ij = cos(S_i,:, S_j,:)`` over
valid columns: two snippets are related when they relate alike to every other snippet (SOSNet's
second-order similarity). The bias ``beta_h * S2`` (``beta`` learnable per head, initialised to
1) is added to the scores of an attention unit of Eq. (6) (``grounding.layers.AttentionUnit``,
its ``bias`` argument); with a zero bias the layer is that plain self-attention unit. Modes:
``second_order`` (default), ``two_hop`` (``log(P P)`` with ``P = softmax(S / tau)`` over valid
snippets) and ``first_order`` (``S``). O(L^3) per video, negligible at L <= 128.

The layer has ``AttentionUnit``'s signature (``ref`` is ``target``: self-attention), so it can
take a base's query-agnostic self-attention slot (``span``: X <- A(X, X) of its Attn block);
the relation vectors of its last call stay in ``last_relation`` for LRCA."""

from __future__ import annotations

from typing import Literal

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from grounding.layers.attention_unit import AttentionUnit
from grounding.layers.masking import masked_softmax, zero_padded

RelationMode = Literal["second_order", "two_hop", "first_order"]


def relation_bias(
    relation: Tensor, mask: Tensor, mode: RelationMode = "second_order", temperature: float = 0.1
) -> Tensor:
    """relation (B, L, dr) unit vectors, mask (B, L) -> (B, L, L) score bias (0 on padded columns)."""
    cols = mask[:, None, :]
    first = (relation @ relation.transpose(1, 2)) * cols  # S on valid columns
    if mode == "first_order":
        return first
    if mode == "two_hop":
        p = masked_softmax(first / temperature, cols)
        return torch.log(p @ p + 1e-6) * cols
    profile = F.normalize(first, dim=-1)  # a row of S as a unit vector (zero rows stay zero)
    return (profile @ profile.transpose(1, 2)) * cols  # S2


class RelationalAttention(nn.Module):
    """X <- A(X, X) with the relational bias; takes its attention unit and relation head W_rel as
    arguments."""

    def __init__(
        self,
        unit: AttentionUnit,
        relation_head: nn.Module,
        mode: RelationMode = "second_order",
        temperature: float = 0.1,
    ) -> None:
        super().__init__()
        self.unit, self.relation_head, self.mode, self.temperature = unit, relation_head, mode, temperature
        self.beta = nn.Parameter(torch.ones(unit.heads))  # beta_h
        self.last_relation: Tensor | None = None

    def relation(self, x: Tensor, mask: Tensor) -> Tensor:
        """r_t = norm(W_rel x_t), zero at padding: (B, L, dr)."""
        return zero_padded(F.normalize(self.relation_head(x), dim=-1), mask)

    def forward(
        self, target: Tensor, target_mask: Tensor, ref: Tensor | None = None, ref_mask: Tensor | None = None
    ) -> Tensor:
        """target (B, L, d), mask (B, L) -> (B, L, d); ``ref`` / ``ref_mask`` are the target's own
        (the slot's signature)."""
        if ref is not None and ref is not target:
            msg = "RelationalAttention is a self-attention: ref must be the target itself"
            raise ValueError(msg)
        self.last_relation = r = self.relation(target, target_mask)
        bias = relation_bias(r, target_mask, self.mode, self.temperature)
        bias = self.beta[None, :, None, None] * bias[:, None].to(target.dtype)
        return self.unit(target, target_mask, target, target_mask, bias=bias)
