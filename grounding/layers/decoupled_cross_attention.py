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
import torch.nn.functional as F
from torch import Tensor

from grounding.layers.attend import attend
from grounding.layers.attention_unit import AttentionUnit
from grounding.layers.context_codebook import CodebookParts, ContextCodebook
from grounding.layers.masking import zero_padded


def decoupled_attend(q: Tensor, word_keys: Tensor, word_values: Tensor, word_mask: Tensor, book_keys: Tensor
                     ) -> tuple[Tensor, Tensor]:
    """q (B, h, Lt, e), word keys / values (B, h, Lq, e), word_mask (B, Lq), codebook keys
    (B, h, K, e) -> (context (B, h, Lt, e) from the words only, word mass (B, h, Lt)).

    One fused call of the shared primitive: the codebook's values are zero and every word's value
    carries one more channel set to 1, so that channel of the output is the softmax mass the
    words received (a row with no valid word gets context 0 and mass 0). Queries and keys get a
    zero channel too, and the queries a factor sqrt((e + 1) / e), so that every width is e + 1
    (the CPU's fused kernel needs equal widths; the math fallback is 1.7x slower) while the
    scores stay q k^T / sqrt(e)."""
    b, h, k_size, e = book_keys.shape[0], book_keys.shape[1], book_keys.shape[2], q.shape[-1]
    q = F.pad(q * math.sqrt((e + 1) / e), (0, 1))
    keys = F.pad(torch.cat([book_keys, word_keys], dim=2), (0, 1))
    values = torch.cat([word_values, word_values.new_ones(*word_values.shape[:-1], 1)], dim=-1)
    values = torch.cat([values.new_zeros(b, h, k_size, e + 1), values], dim=2)
    mask = torch.cat([torch.ones(b, k_size, dtype=torch.bool, device=word_mask.device), word_mask], dim=1)
    out = attend(q, keys, values, mask)
    return out[..., :-1], out[..., -1]


@dataclass
class DecoupledOutput:
    out: Tensor  # (B, Lt, d)
    word_mass: Tensor  # (B, Lt) in [0, 1], 0 at padded targets
    codebook: Tensor  # (B, K, d): the codebook's query part (its entries; the video shift is shared)
    projected: tuple[Tensor, Tensor, Tensor, Tensor, Tensor | None]  # per head: queries, word keys,
    # word values, the codebook's query-part keys and its video-shift keys (None without one)
    masks: tuple[Tensor, Tensor]  # (target_mask, ref_mask) of the call


class DecoupledCrossAttention(AttentionUnit):
    def __init__(self, dim: int, heads: int = 8, dropout: float = 0.2, codebook: ContextCodebook | None = None) -> None:
        super().__init__(dim, heads, dropout)
        self.codebook = codebook
        self.last: DecoupledOutput | None = None

    def attend(self, target: Tensor, target_mask: Tensor, ref: Tensor, ref_mask: Tensor) -> DecoupledOutput:
        """target (B, Lt, d) snippets, ref (B, Lq, d) words, with their (B, L) masks."""
        b, d = target.shape[0], target.shape[-1]
        parts = (self.codebook.parts(target, target_mask, ref, ref_mask) if self.codebook is not None
                 else CodebookParts(target.new_zeros(b, 0, d), None))
        k_size = parts.query.shape[1]
        q, keys = self._split(self.fc_query(target)), self._split(self.fc_key(torch.cat([parts.query, ref], dim=1)))
        word_keys, book_keys, values = keys[:, :, k_size:], keys[:, :, :k_size], self._split(self.fc_value(ref))
        # W_k (C + s) + b_k = (W_k C + b_k) + W_k s: the video shift's keys, added to every entry
        shift_keys = self._split(F.linear(parts.video, self.fc_key.weight)) if parts.video is not None else None
        all_book_keys = book_keys if shift_keys is None else book_keys + shift_keys
        ctx, mass = decoupled_attend(q, word_keys, values, ref_mask, all_book_keys)
        ctx = ctx.transpose(1, 2).reshape(target.shape)  # heads merged
        out = zero_padded(self.drop(self.norm(self.fc_out(target + ctx))), target_mask)
        mass = mass.mean(dim=1) * target_mask.to(mass.dtype)  # r_t
        return DecoupledOutput(out, mass, parts.query, (q, word_keys, values, book_keys, shift_keys),
                               (target_mask, ref_mask))

    def forward(self, target: Tensor, target_mask: Tensor, ref: Tensor, ref_mask: Tensor) -> Tensor:
        self.last = self.attend(target, target_mask, ref, ref_mask)
        return self.last.out

    def word_mass_with(self, last: DecoupledOutput, order: Tensor) -> Tensor:
        """Word mass (B, Lt) of each target of ``last``'s call with the words of query ``order[i]``
        (CG-DETR's mismatched pairs), exactly, from that call's projections: the other query's
        words and codebook part, this target's queries and video shift; only the softmax is redone."""
        q, word_keys, values, book_keys, shift_keys = last.projected
        target_mask, ref_mask = last.masks
        book_keys = book_keys[order] if shift_keys is None else book_keys[order] + shift_keys
        _, mass = decoupled_attend(q, word_keys[order], values[order], ref_mask[order], book_keys)
        return mass.mean(dim=1) * target_mask.to(mass.dtype)
