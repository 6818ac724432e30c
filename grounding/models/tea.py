"""``tea``: TEA (Text-Enhanced Alignment) = the ``span`` baseline plus

- video-narrative merging, Eq. (4), in the three variants of Table 4
  (``concat_mlp`` s_i <- MLP(s_i || c_i), ``add`` s_i <- s_i + c_i, ``attention`` V <- A(V, C));
- the paragraph-query parallel interaction, Eq. (12-14): a second Attn + predictor on the
  aligned narratives C and the query, combined with the video branch as p = p_v + alpha p_c.

Eq. (14) is applied to probabilities, as the paper writes it: each branch's start (end) logits
go through a softmax over valid snippets, and the model outputs
log((p_v + alpha p_c) / (1 + alpha)) as its logits. A softmax of these gives back the
normalised mixture, so the loss (Eq. 15) and decoding both see exactly p_v + alpha p_c (up to the
constant 1 + alpha, which changes no ranking).

Narratives (B, L, Dt) are the Eq. (3)-aligned sentence vectors (zero where a snippet has none);
their sequence mask is the video mask, and the ``attention`` merge reads only snippets with a
narrative (narrative_mask). Switches: use_narrative_merge / merge, use_paragraph_query / alpha,
plus the baseline's use_guided_conv and use_highlight (Figure 3, Table 4, Figure 4)."""

from __future__ import annotations

import math
from typing import Literal

import torch
from pydantic import Field
from torch import Tensor, nn

from grounding.data.collate import per_query
from grounding.layers import MLP, AttentionUnit, AttnBlock, FeatureEncoder, SpanPredictor, mask_logits, zero_padded
from grounding.models.base import register_model
from grounding.models.span import SpanConfig, SpanModel


class TeaConfig(SpanConfig):
    use_narrative_merge: bool = Field(True, description="video-narrative merging, Eq. (4) ('VN')")
    merge: Literal["concat_mlp", "add", "attention"] = Field("concat_mlp", description="Eq. (4) variant (Table 4)")
    use_paragraph_query: bool = Field(True, description="paragraph-query interaction, Eq. (12-14) ('PQ')")
    alpha: float = Field(0.5, ge=0.0, description="weight of the paragraph branch in Eq. (14) (TEA: 0.5)")


class ConcatMLPMerge(nn.Module):
    """Eq. (4): s_i <- MLP(s_i || c_i)."""

    def __init__(self, dim: int, heads: int, dropout: float) -> None:
        super().__init__()
        self.mlp = MLP(2 * dim, dim, dim, n_layers=2, dropout=dropout)

    def forward(self, v: Tensor, v_mask: Tensor, c: Tensor, c_mask: Tensor) -> Tensor:
        return zero_padded(self.mlp(torch.cat([v, c], dim=-1)), v_mask)


class AddMerge(nn.Module):
    """Table 4 'Add': s_i <- s_i + c_i."""

    def __init__(self, dim: int, heads: int, dropout: float) -> None:
        super().__init__()

    def forward(self, v: Tensor, v_mask: Tensor, c: Tensor, c_mask: Tensor) -> Tensor:
        return zero_padded(v + c, v_mask)


class AttentionMerge(nn.Module):
    """Table 4 'Attention': V <- A(V, C) with the attention unit of Eq. (6)."""

    def __init__(self, dim: int, heads: int, dropout: float) -> None:
        super().__init__()
        self.unit = AttentionUnit(dim, heads, dropout)

    def forward(self, v: Tensor, v_mask: Tensor, c: Tensor, c_mask: Tensor) -> Tensor:
        return self.unit(v, v_mask, c, c_mask)


MERGES: dict[str, type[nn.Module]] = {"concat_mlp": ConcatMLPMerge, "add": AddMerge, "attention": AttentionMerge}


def mix_branches(video_logits: Tensor, paragraph_logits: Tensor, alpha: float, mask: Tensor) -> Tensor:
    """Eq. (14) on probabilities: log((softmax(l_v) + alpha softmax(l_c)) / (1 + alpha)), masked."""
    log_pv = torch.log_softmax(video_logits, dim=-1)
    if alpha == 0:
        return mask_logits(log_pv, mask)
    log_pc = torch.log_softmax(paragraph_logits, dim=-1) + math.log(alpha)
    mixed = torch.logsumexp(torch.stack([log_pv, log_pc]), dim=0) - math.log1p(alpha)
    return mask_logits(mixed, mask)


@register_model("tea", TeaConfig)
class TeaModel(SpanModel):
    config: TeaConfig

    def __init__(self, config: TeaConfig, **parts: nn.Module | None) -> None:
        super().__init__(config, **parts)
        c = config
        self.narrative_encoder = FeatureEncoder(c.text_dim, c.hidden, c.dropout) if self.reads_narratives else None
        self.merge = MERGES[c.merge](c.hidden, c.heads, c.dropout) if c.use_narrative_merge else None
        if c.use_paragraph_query:
            self.paragraph_attn = AttnBlock.build(c.hidden, c.heads, c.dropout)
            self.paragraph_predictor = SpanPredictor.build(c.hidden, c.dropout, c.use_highlight)

    @property
    def reads_narratives(self) -> bool:
        return self.config.use_narrative_merge or self.config.use_paragraph_query

    @property
    def required_keys(self) -> tuple[str, ...]:
        extra = ("narratives", "narrative_mask") if self.reads_narratives else ()
        return super().required_keys + extra

    def forward(self, batch: dict[str, Tensor]) -> dict[str, Tensor]:
        self.check_batch(batch)
        vm, qm = batch["video_mask"], batch["query_mask"]
        v, q = self.encode(batch)  # video-level arrays: once per row of batch["video"]
        c = self.narrative_encoder(batch["narratives"], vm) if self.narrative_encoder is not None else None
        if c is not None and self.merge is not None:
            v = self.merge(v, vm, c, batch["narrative_mask"] & vm)  # Eq. (4-5)
        v = self.prepare(v, vm)
        out = self.ground_prepared(per_query(v, batch), per_query(vm, batch), q, qm)  # Eq. (7-11) on V^m
        if c is None or not self.config.use_paragraph_query:
            return out
        c = per_query(self.paragraph_attn.first(c, vm), batch)  # after the video branch: same dropout order
        vm = per_query(vm, batch)
        c, qc = self.paragraph_attn.rest(c, vm, q, qm)  # Eq. (12)
        para = self.paragraph_predictor(c, vm, qc, qm)  # Eq. (13)
        mixed = {k: mix_branches(out[k], para[k], self.config.alpha, vm) for k in ("start_logits", "end_logits")}
        branches = {f"video_{k}": out[k] for k in ("start_logits", "end_logits")}
        branches |= {f"paragraph_{k}": para[k] for k in ("start_logits", "end_logits", "highlight_logits")}
        return {**mixed, "highlight_logits": out["highlight_logits"], **branches}  # Eq. (14)

    @property
    def highlight_keys(self) -> tuple[str, ...]:
        """Eq. (16) supervises the gate h of both predictors (their mean) when both exist."""
        keys = super().highlight_keys
        if keys and self.config.use_paragraph_query:
            keys += ("paragraph_highlight_logits",)
        return keys
