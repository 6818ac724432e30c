"""MASRA's DAI (Decoupled Alignment Interaction, design note section 2.5), after CG-DETR's
adaptive cross-attention: a video <- query cross-attention whose softmax runs over a
context-aware codebook *and* the query words, with values from the words only.

    A   = softmax([q K_C^T ; q K_W^T] / sqrt(d_h))        over K codebook entries + valid words
    ctx = A[:, words] V_W                                  (the codebook's share is dropped)

"Decoupled": *alignment* (where the softmax puts a snippet's mass, between the codebook and the
words) is separate from *interaction* (what is read: words only), so a snippet unrelated to the
query can give its mass to the codebook and receive little text. The per-snippet word mass
``r_t = mean_heads sum_words A_tj`` in [0, 1] is supervised by the model (foreground BCE and
the mismatched-pair term). With an empty codebook (K = 0) each flavour is exactly the unit it
replaces and ``r = 1`` wherever the query has a word.

Two flavours, one per slot a base offers, each with the signature and layers of the unit it
replaces (so a base's weights load into it):

- ``DecoupledCrossAttention``: TEA's attention unit of Eq. (6), ``out = LN(FC(X + ctx))``
  (``span``: X <- A(X, Y) of its Attn block);
- ``DecoupledProjectedAttention``: the DETR family's projected multi-head attention
  (``qd_detr``: the attention inside each T2V aligner layer); it is not told the target's mask,
  so the model sets ``target_mask`` before the base's forward.

Every call is kept in ``calls`` (word mass, codebook, projections; the model reads and clears
them right after the base's forward, as CG-DETR keeps ``t2vattnvalues``); ``word_mass_with``
gives a call's word mass with other queries' words, exactly, from its projections."""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from grounding.layers.attend import attend, merge_heads, split_heads
from grounding.layers.attention_unit import AttentionUnit
from grounding.layers.context_codebook import CodebookParts, ContextCodebook
from grounding.layers.detr.multi_head import ProjectedAttention
from grounding.layers.masking import zero_padded


def decoupled_attend(
    q: Tensor, word_keys: Tensor, word_values: Tensor, word_mask: Tensor, book_keys: Tensor
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
    word_mass: Tensor  # (B, Lt) in [0, 1], 0 at padded targets
    codebook: Tensor  # (B, K, d): the codebook's query part (its entries; the video shift is shared)
    projected: tuple[Tensor, Tensor, Tensor, Tensor, Tensor | None]  # per head: queries, word keys,
    # word values, the codebook's query-part keys and its video-shift keys (None without one)
    masks: tuple[Tensor, Tensor]  # (target_mask, ref_mask) of the call
    parts: CodebookParts  # the codebook of the call (a following unit reuses it)


class _Decoupled:
    """The part both flavours share: the codebook's keys, the decoupled softmax, the record."""

    codebook: ContextCodebook | None
    calls: list[DecoupledOutput]
    follows: _Decoupled | None = None  # reuse the codebook of that unit's last call (same words)

    def _decouple(
        self,
        q: Tensor,
        target: Tensor,
        target_mask: Tensor,
        words: Tensor,
        word_mask: Tensor,
        key_proj: nn.Linear,
        value_proj: nn.Linear,
        heads: int,
    ) -> Tensor:
        """q (B, h, Lt, e) projected queries; target (B, Lt, d) (the codebook's video context) and
        words (B, Lq, d) unprojected -> the context (B, h, Lt, e); records the call."""
        b, d = words.shape[0], words.shape[-1]
        if self.follows is not None:
            parts = self.follows.calls[-1].parts
        elif self.codebook is not None:
            parts = self.codebook.parts(target, target_mask, words, word_mask)
        else:
            parts = CodebookParts(words.new_zeros(b, 0, d), None)
        k_size = parts.query.shape[1]
        keys = split_heads(key_proj(torch.cat([parts.query, words], dim=1)), heads)  # [K_C ; K_W]
        word_keys, book_keys, values = keys[:, :, k_size:], keys[:, :, :k_size], split_heads(value_proj(words), heads)
        # W_k (C + s) + b_k = (W_k C + b_k) + W_k s: the video shift's keys, added to every entry
        shift_keys = split_heads(F.linear(parts.video, key_proj.weight), heads) if parts.video is not None else None
        ctx, mass = decoupled_attend(
            q, word_keys, values, word_mask, book_keys if shift_keys is None else book_keys + shift_keys
        )
        mass = mass.mean(dim=1) * target_mask.to(mass.dtype)  # r_t
        self.calls.append(
            DecoupledOutput(
                mass, parts.query, (q, word_keys, values, book_keys, shift_keys), (target_mask, word_mask), parts
            )
        )
        return ctx

    @staticmethod
    def word_mass_with(call: DecoupledOutput, order: Tensor) -> Tensor:
        """Word mass (B, Lt) of each target of ``call`` with the words of query ``order[i]``
        (CG-DETR's mismatched pairs), exactly, from the call's projections: the other query's
        words and codebook part, this target's queries and video shift; only the softmax is redone."""
        q, word_keys, values, book_keys, shift_keys = call.projected
        target_mask, ref_mask = call.masks
        book_keys = book_keys[order] if shift_keys is None else book_keys[order] + shift_keys
        _, mass = decoupled_attend(q, word_keys[order], values[order], ref_mask[order], book_keys)
        return mass.mean(dim=1) * target_mask.to(mass.dtype)


class DecoupledCrossAttention(_Decoupled, AttentionUnit):
    """DAI in the place of TEA's attention unit (Eq. 6): ``LN(FC(X + ctx))``, dropout, zero at
    padding."""

    def __init__(self, dim: int, heads: int = 8, dropout: float = 0.2, codebook: ContextCodebook | None = None) -> None:
        AttentionUnit.__init__(self, dim, heads, dropout)
        self.codebook = codebook
        self.calls = []

    def forward(self, target: Tensor, target_mask: Tensor, ref: Tensor, ref_mask: Tensor) -> Tensor:
        """target (B, Lt, d) snippets, ref (B, Lq, d) words, with their (B, L) masks."""
        q = self._split(self.fc_query(target))
        ctx = self._decouple(q, target, target_mask, ref, ref_mask, self.fc_key, self.fc_value, self.heads)
        ctx = merge_heads(ctx)
        return zero_padded(self.drop(self.norm(self.fc_out(target + ctx))), target_mask)


class DecoupledProjectedAttention(_Decoupled, ProjectedAttention):
    """DAI in the place of the DETR family's projected attention: ``W_o ctx``. In a stack of
    layers that read the same words (QD-DETR's T2V aligner), the later layers ``follow`` the
    first: they use the codebook of its last call (CG-DETR conditions one set of dummies and
    offers it to every T2V layer, each through its own key projection)."""

    def __init__(
        self,
        dim: int,
        heads: int = 8,
        codebook: ContextCodebook | None = None,
        follows: DecoupledProjectedAttention | None = None,
    ) -> None:
        ProjectedAttention.__init__(self, dim, heads)
        self.codebook = codebook
        self.calls = []
        self.target_mask: Tensor | None = None  # (B, Lt) of the next calls, set by the model
        if follows is not None:
            self.follow(follows)

    def follow(self, first: DecoupledProjectedAttention) -> None:
        """Use ``first``'s codebook (dropping this unit's own): kept as a reference, not a
        submodule, so its parameters are held (and saved) once."""
        self.codebook = None
        object.__setattr__(self, "follows", first)

    def forward(
        self, query: Tensor, key: Tensor, value: Tensor, key_mask: Tensor, bias: Tensor | None = None
    ) -> Tensor:
        """query (B, Lt, d) snippets (with positions), key / value (B, Lq, d) the words (the T2V
        layer passes the same words as both), key_mask (B, Lq)."""
        if bias is not None or key is not value:
            msg = "DecoupledProjectedAttention: needs key is value (the words) and no score bias"
            raise ValueError(msg)
        mask = self.target_mask if self.target_mask is not None else query.new_ones(query.shape[:2], dtype=torch.bool)
        q = split_heads(self.q_proj(query), self.heads)
        ctx = self._decouple(q, query, mask, key, key_mask, self.k_proj, self.v_proj, self.heads)
        return self.out_proj(merge_heads(ctx))
