"""``span``: the baseline (TEA's [19] EMB / VSLNet span pipeline), video + query only.

    encoders -> guided conv (Eq. 7) -> Attn (Eq. 8-9) -> context-query attention (Eq. 11)
    -> foreground gate h + conditioned span predictor (Eq. 10); loss Eq. (15-17).

Other methods subclass it and reuse ``encode`` (inputs -> hidden size) and ``ground``
(Eq. 7-11 on a video-like sequence); parts can also be passed in to replace the defaults.

Batched inference may share a video among its queries: a batch with ``video_index`` (B,) long
holds its video-level arrays (video, video_mask, narratives, narrative_mask) once per distinct
video (U rows) and its query arrays per query; the query-independent part of ``ground``
(``prepare``: Eq. 7 and the first unit of Eq. 8) then runs once per video
(``grounding.inference.collate_by_video`` builds such a batch)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import torch
from pydantic import Field, model_validator
from torch import Tensor, nn

from grounding.data.collate import per_query
from grounding.layers import AttnBlock, FeatureEncoder, GuidedConv, SpanPredictor
from grounding.layers.masking import masked_softmax
from grounding.losses import grounding_loss
from grounding.models.base import GroundingModel, ModelConfig, register_model
from grounding.models.decode import span_windows


class SpanConfig(ModelConfig):
    hidden: int = Field(128, gt=0, description="hidden size of every layer (TEA: 128)")
    heads: int = Field(8, gt=0, description="attention heads of Eq. (6) (TEA: 8)")
    dropout: float = Field(0.2, ge=0.0, lt=1.0, description="dropout rate (TEA: 0.2)")
    use_guided_conv: bool = Field(True, description="the guided mechanism of Eq. (7)")
    guided_kernel: int = Field(3, gt=0, description="Conv2D kernel of Eq. (7); odd")
    use_highlight: bool = Field(True, description="the foreground gate h of Eq. (10) and its loss Eq. (16)")
    highlight_weight: float = Field(5.0, ge=0.0, description="lambda of Eq. (17) (TEA: 5)")

    @model_validator(mode="after")
    def _check_sizes(self) -> SpanConfig:
        if self.hidden % self.heads != 0:
            msg = f"hidden={self.hidden} must be divisible by heads={self.heads}"
            raise ValueError(msg)
        if self.guided_kernel % 2 != 1:
            msg = f"guided_kernel={self.guided_kernel} must be odd (allowed: 1, 3, 5, ...)"
            raise ValueError(msg)
        return self


def _or(given: nn.Module | None, default: Callable[[], nn.Module]) -> nn.Module:
    return given if given is not None else default()


@register_model("span", SpanConfig)
class SpanModel(GroundingModel):
    config: SpanConfig
    shares_videos = True

    def __init__(
        self,
        config: SpanConfig,
        *,
        video_encoder: nn.Module | None = None,
        query_encoder: nn.Module | None = None,
        guided_conv: nn.Module | None = None,
        attn: nn.Module | None = None,
        predictor: nn.Module | None = None,
    ) -> None:
        super().__init__(config)
        c = config
        self.video_encoder = _or(video_encoder, lambda: FeatureEncoder(c.video_dim, c.hidden, c.dropout))
        self.query_encoder = _or(query_encoder, lambda: FeatureEncoder(c.text_dim, c.hidden, c.dropout))
        self.guided_conv = (
            guided_conv if guided_conv is not None or not c.use_guided_conv else GuidedConv(c.guided_kernel)
        )
        self.attn = _or(attn, lambda: AttnBlock.build(c.hidden, c.heads, c.dropout))
        self.predictor = _or(predictor, lambda: SpanPredictor.build(c.hidden, c.dropout, c.use_highlight))

    def encode(self, batch: dict[str, Tensor]) -> tuple[Tensor, Tensor]:
        """Video (B, L, d) and query words (B, Lq, d) in the hidden size."""
        v = self.video_encoder(batch["video"], batch["video_mask"])
        q = self.query_encoder(batch["query_tokens"], batch["query_mask"])
        return v, q

    def ground(self, v: Tensor, v_mask: Tensor, q: Tensor, q_mask: Tensor) -> dict[str, Tensor]:
        """Eq. (7-11) on a video-like sequence v: start / end / highlight logits (B, L)."""
        return self.ground_prepared(self.prepare(v, v_mask), v_mask, q, q_mask)

    def prepare(self, v: Tensor, v_mask: Tensor) -> Tensor:
        """The query-independent start of ``ground``: Eq. (7), then X <- A(X, X) of Eq. (8)."""
        if self.guided_conv is not None:
            v = self.guided_conv(v, v_mask)  # Eq. (7)
        return self.attn.first(v, v_mask) if isinstance(self.attn, AttnBlock) else v

    def ground_prepared(
        self, v: Tensor, v_mask: Tensor, q: Tensor, q_mask: Tensor, keep_states: bool = False
    ) -> dict[str, Tensor]:
        """The rest of ``ground`` on ``prepare``'s output. ``keep_states`` (the standard predictor
        only) adds its last layers' states to the outputs (``SpanPredictor``; Bridge-STG's bridge)."""
        if isinstance(self.attn, AttnBlock):
            v, q = self.attn.rest(v, v_mask, q, q_mask)  # Eq. (8-9)
        else:
            v, q = self.attn(v, v_mask, q, q_mask)
        if keep_states:
            return self.predictor(v, v_mask, q, q_mask, keep_states=True)
        return self.predictor(v, v_mask, q, q_mask)  # Eq. (10-11)

    def forward(self, batch: dict[str, Tensor]) -> dict[str, Tensor]:
        self.check_batch(batch)
        vm = batch["video_mask"]
        v, q = self.encode(batch)
        v = self.prepare(v, vm)  # once per row of batch["video"]
        return self.ground_prepared(per_query(v, batch), per_query(vm, batch), q, batch["query_mask"])

    @property
    def highlight_keys(self) -> tuple[str, ...]:
        """Outputs supervised by Eq. (16)."""
        return ("highlight_logits",) if self.config.use_highlight else ()

    def loss(self, outputs: dict[str, Tensor], batch: dict[str, Tensor]) -> dict[str, Tensor]:
        return grounding_loss(outputs, batch, self.config.highlight_weight, self.highlight_keys)  # Eq. (17)

    def decode(self, outputs: dict[str, Tensor], batch: dict[str, Any], k: int = 5) -> list[dict[str, Any]]:
        """The ``k`` best spans under p_s[i] p_e[j], i <= j (``grounding.models.decode``)."""
        mask = per_query(batch["video_mask"], batch)
        windows = span_windows(outputs["start_logits"], outputs["end_logits"], mask, batch["duration"], k)
        return [{"pred_relevant_windows": w} for w in windows]

    def curves(self, outputs: dict[str, Tensor], batch: dict[str, Any]) -> list[dict[str, np.ndarray]]:
        """Start / end probabilities (and the foreground gate h) over each query's snippets."""
        mask = per_query(batch["video_mask"], batch)
        named = {
            "start": masked_softmax(outputs["start_logits"].float(), mask),
            "end": masked_softmax(outputs["end_logits"].float(), mask),
        }
        if self.config.use_highlight:
            named["foreground"] = torch.sigmoid(outputs["highlight_logits"].float())
        lengths = mask.sum(dim=1).tolist()
        return [{name: v[i, :n].detach().cpu().numpy() for name, v in named.items()} for i, n in enumerate(lengths)]
