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

from dataclasses import dataclass

import torch
from torch import Tensor

from grounding.layers.attend import attend
from grounding.layers.attention_unit import AttentionUnit
from grounding.layers.context_codebook import ContextCodebook
from grounding.layers.masking import zero_padded


def decoupled_attend(q: Tensor, word_keys: Tensor, word_values: Tensor, word_mask: Tensor, book_keys: Tensor
                     ) -> tuple[Tensor, Tensor]:
    """q (B, h, Lt, e), word keys / values (B, h, Lq, e / e_v), word_mask (B, Lq), codebook keys
    (B, h, K, e) -> (context (B, h, Lt, e_v) from the words only, word mass (B, h, Lt)).

    One fused call of the shared primitive: the codebook's values are zero and every word's value
    carries one more channel set to 1, so that channel of the output is the softmax mass the
    words received (a row with no valid word gets context 0 and mass 0)."""
    b, h, k_size = book_keys.shape[0], book_keys.shape[1], book_keys.shape[2]
    values = torch.cat([word_values, word_values.new_ones(*word_values.shape[:-1], 1)], dim=-1)
    values = torch.cat([values.new_zeros(b, h, k_size, values.shape[-1]), values], dim=2)
    mask = torch.cat([torch.ones(b, k_size, dtype=torch.bool, device=word_mask.device), word_mask], dim=1)
    out = attend(q, torch.cat([book_keys, word_keys], dim=2), values, mask)
    return out[..., :-1], out[..., -1]


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
        q, keys = self._split(self.fc_query(target)), self._split(self.fc_key(torch.cat([book, ref], dim=1)))
        k_size = book.shape[1]  # keys [K_C ; K_W], values V_W only
        ctx, mass = decoupled_attend(q, keys[:, :, k_size:], self._split(self.fc_value(ref)), ref_mask, keys[:, :, :k_size])
        ctx = ctx.transpose(1, 2).reshape(target.shape)  # heads merged
        out = zero_padded(self.drop(self.norm(self.fc_out(target + ctx))), target_mask)
        mass = mass.mean(dim=1) * target_mask.to(mass.dtype)  # r_t
        return DecoupledOutput(out, mass, book, (target, target_mask, ref, ref_mask))

    def forward(self, target: Tensor, target_mask: Tensor, ref: Tensor, ref_mask: Tensor) -> Tensor:
        self.last = self.attend(target, target_mask, ref, ref_mask)
        return self.last.out
