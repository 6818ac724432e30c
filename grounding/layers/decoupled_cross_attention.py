"""MASRA's DAI (Decoupled Alignment Interaction, design note section 2.5), after CG-DETR's
adaptive cross-attention: the video <- query attention unit of Eq. (6) whose softmax runs over a
context-aware codebook *and* the query words, with values from the words only.

    A   = softmax([q K_C^T ; q K_W^T] / sqrt(d_h))        over K codebook entries + valid words
    ctx = A[:, words] V_W                                  (the codebook's share is dropped)
    out = LN(FC(X + ctx)), dropout, zero at padding         (as ``AttentionUnit``)

"Decoupled": *alignment* (where the softmax puts a snippet's mass, between the codebook and the
words) is separate from *interaction* (what is read: words only), so a snippet unrelated to the
query can give its mass to the codebook and receive little text. The per-snippet word mass
``r_t = mean_heads sum_words A_tj`` in [0, 1] is supervised by the model (foreground BCE and
the mismatched-pair term). With an empty codebook (K = 0) this is exactly ``AttentionUnit`` and
``r = 1`` wherever the query has a word.

The unit has ``AttentionUnit``'s signature and layers, so it plugs into a base model's video <-
query slot (``AttnBlock.x_cross``); ``attend`` returns the word mass and the codebook too, and a
plain call keeps them in ``last`` (read by the model right after the base's forward, as CG-DETR
keeps ``t2vattnvalues``)."""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import Tensor

from grounding.layers.attention_unit import AttentionUnit
from grounding.layers.context_codebook import ContextCodebook
from grounding.layers.masking import masked_softmax, zero_padded


@dataclass
class DecoupledOutput:
    out: Tensor  # (B, Lt, d)
    word_mass: Tensor  # (B, Lt) in [0, 1], 0 at padded targets
    codebook: Tensor  # (B, K, d)
    inputs: tuple[Tensor, Tensor, Tensor, Tensor]  # (target, target_mask, ref, ref_mask) of the call


class DecoupledCrossAttention(AttentionUnit):
    def __init__(self, dim: int, heads: int = 8, dropout: float = 0.2, codebook: ContextCodebook | None = None) -> None:
        super().__init__(dim, heads, dropout)
        self.codebook = codebook
        self.last: DecoupledOutput | None = None

    def attend(self, target: Tensor, target_mask: Tensor, ref: Tensor, ref_mask: Tensor) -> DecoupledOutput:
        """target (B, Lt, d) snippets, ref (B, Lq, d) words, with their (B, L) masks."""
        b = target.shape[0]
        book = (self.codebook(target, target_mask, ref, ref_mask) if self.codebook is not None
                else target.new_zeros(b, 0, target.shape[-1]))
        k_size = book.shape[1]
        q = self._split(self.fc_query(target))
        keys = self._split(self.fc_key(torch.cat([book, ref], dim=1)))  # [K_C ; K_W]
        values = self._split(self.fc_value(ref))  # V_W only
        scores = q @ keys.transpose(-1, -2) / math.sqrt(q.shape[-1])  # (B, h, Lt, K + Lq)
        valid = torch.cat([torch.ones(b, k_size, dtype=torch.bool, device=ref.device), ref_mask], dim=1)
        attn = masked_softmax(scores, valid[:, None, None, :])
        words = attn[..., k_size:]
        ctx = (words @ values).transpose(1, 2).reshape(target.shape)  # heads merged
        out = zero_padded(self.drop(self.norm(self.fc_out(target + ctx))), target_mask)
        mass = words.sum(dim=-1).mean(dim=1) * target_mask.to(words.dtype)  # r_t
        return DecoupledOutput(out, mass, book, (target, target_mask, ref, ref_mask))

    def forward(self, target: Tensor, target_mask: Tensor, ref: Tensor, ref_mask: Tensor) -> Tensor:
        self.last = self.attend(target, target_mask, ref, ref_mask)
        return self.last.out
