"""``qd_detr``: QD-DETR (Moon et al., CVPR 2023), the DETR-family baseline MESM builds on, on the
shared core of ``grounding.layers.detr``:

    video -> input projection + sine positions          (once per video)
    words -> input projection
    T2V aligner: frames attend the query's words        (query-dependent video, "QD")
    encoder with a learnable global token -> local memory m, global memory g
    anchor decoder: 10 (centre, width) anchors refined per layer -> class / span heads
    saliency s_i = (W1 m_i) . (W2 g) / sqrt(d)

Training: Hungarian matching and the set criterion (span L1 10, gIoU 1, label 4 with eos 0.1, on
every decoder layer), plus the saliency losses (rank-contrastive, negative pair, margin) with a
negative query drawn from another video of the batch, whose words are run against this video
through aligner and encoder (not the decoder: only its saliency is used). Batches are whole
videos with their queries (``grounding.data.samplers``; ``optim.batch_size`` counts videos).

Decoding: every decoder query is a window, scored by its foreground probability; the top-k
(at most ``num_queries``) windows in seconds, clipped to the video, plus
``pred_saliency_scores`` (one per 2-s clip), so QVHighlights' highlight metrics apply too.

Differences from the released code (jayleicn / QD-DETR, as MESM ships it), each on purpose:
- the negative pass stops after the encoder (the released code also runs the decoder and
  discards it) and runs only in training (the released code also runs it at evaluation, for a
  validation loss nobody selects on);
- windows are clipped to the video's own duration (released: to [0, 150] s) and not rounded to
  the clip length;
- attention weights have no dropout (the fused attention kernel on CPU; residual dropout stays);
- the margin term's pairs are drawn in the loss (uniformly among snippets inside / outside the
  moment) instead of by the data loader.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import torch
from pydantic import Field, model_validator
from torch import Tensor, nn

from grounding.data.collate import per_query
from grounding.data.samplers import VideoBatchSampler
from grounding.data.targets import TargetConfig, moment_mask
from grounding.layers.detr import (
    FOREGROUND,
    AnchorDecoder,
    ClassHead,
    GlobalTokenEncoder,
    HungarianMatcher,
    InputProjection,
    SaliencyHead,
    SetCriterion,
    SpanHead,
    T2VStack,
    cw_to_se,
    frame_positions,
    margin_loss,
    negative_pair_loss,
    rank_contrastive_loss,
    sample_pairs,
)
from grounding.layers.masking import zero_padded
from grounding.models.base import GroundingModel, ModelConfig, clip_scores, register_model


class QDDetrConfig(ModelConfig):
    hidden: int = Field(256, gt=0, description="hidden size d (QD-DETR / MESM: 256)")
    heads: int = Field(8, gt=0, description="attention heads (8)")
    ffn_dim: int = Field(1024, gt=0, description="feed-forward width of every transformer layer (1024)")
    dropout: float = Field(0.1, ge=0.0, lt=1.0, description="dropout inside the transformer layers (0.1)")
    input_dropout: float = Field(0.5, ge=0.0, lt=1.0, description="dropout of the input projections (0.5)")
    input_blocks: int = Field(2, ge=1, description="LN-dropout-linear blocks of each input projection (2)")
    activation: Literal["relu", "prelu", "gelu"] = Field(
        "relu", description="FFN activation (QD-DETR relu, MESM prelu)"
    )
    t2v_layers: int = Field(2, ge=1, description="text-to-video aligner layers (2)")
    enc_layers: int = Field(2, ge=1, description="global-token encoder layers (2)")
    dec_layers: int = Field(2, ge=1, description="anchor decoder layers (2)")
    num_queries: int = Field(10, ge=1, description="decoder queries = windows predicted per query (10)")
    aux_loss: bool = Field(True, description="set losses on every decoder layer, not only the last")
    cost_span: float = Field(10.0, ge=0, description="matcher: weight of the span L1 cost")
    cost_giou: float = Field(1.0, ge=0, description="matcher: weight of the -gIoU cost")
    cost_class: float = Field(4.0, ge=0, description="matcher: weight of the -p(foreground) cost (TACoS 6)")
    span_weight: float = Field(10.0, ge=0, description="loss weight of span L1")
    giou_weight: float = Field(1.0, ge=0, description="loss weight of 1 - gIoU")
    label_weight: float = Field(4.0, ge=0, description="loss weight of the foreground CE (TACoS 6)")
    eos_coef: float = Field(0.1, ge=0, description="class weight of 'no moment' in the label CE")
    saliency_weight: float = Field(1.0, ge=0, description="weight of the saliency losses (MESM Charades 4)")
    rank_coef: float = Field(12.0, gt=0, description="the rank-contrastive sum is divided by it (12; TACoS 1)")
    rank_tau: float = Field(0.5, gt=0, description="temperature of the rank-contrastive term")
    rank_levels: int = Field(11, ge=1, description="saliency levels r = 1..n of the rank-contrastive term")
    use_negative_pair: bool = Field(
        True, description="the negative-pair term and the other video's query in the rank-contrastive term"
    )
    use_margin: bool = Field(True, description="the margin (triplet) saliency term (MESM: QVH / TACoS only)")
    saliency_margin: float = Field(0.2, ge=0, description="margin of the margin term")
    margin_pairs: int = Field(2, ge=1, description="(inside, outside) snippet pairs per query of the margin term")
    max_queries_per_video: int | None = Field(
        None,
        ge=1,
        description="video-grouped batches cut videos into chunks of at most this many queries (MESM TACoS: 10)",
    )

    @model_validator(mode="after")
    def _check_sizes(self) -> QDDetrConfig:
        if self.hidden % self.heads != 0:
            msg = f"hidden={self.hidden} must be divisible by heads={self.heads}"
            raise ValueError(msg)
        if self.hidden % 4 != 0:
            msg = f"hidden={self.hidden} must be a multiple of 4 (sine embedding of centre and width)"
            raise ValueError(msg)
        return self


@dataclass(frozen=True)
class DetrTargets:
    """Labels of one query for the DETR family: ``span_targets`` (n, 2), every window as
    normalised (centre, width) clipped to [0, 1], and ``saliency_label`` (length,): with
    QVHighlights' saliency in the row's ``extra`` the summed annotator score of the 2-s clip that
    holds each snippet's centre (0-12), else 1 on the snippets of every window (the quantisation
    of ``grounding.data.targets.snippet_span``). Picklable."""

    config: TargetConfig = field(default_factory=TargetConfig)
    keys: tuple[str, ...] = ("span_targets", "saliency_label")
    reads_extra: bool = True
    clip_len: float = 2.0

    def __call__(
        self, windows: list[tuple[float, float]], duration: float, length: int, extra: dict[str, Any] | None = None
    ) -> dict[str, np.ndarray]:
        if not windows or length <= 0 or not duration > 0:
            msg = f"DetrTargets: need windows, length > 0 and duration > 0; got {windows}, {length}, {duration}"
            raise ValueError(msg)
        se = np.clip(np.asarray(windows, np.float64).reshape(-1, 2) / duration, 0.0, 1.0)
        spans = np.stack([(se[:, 0] + se[:, 1]) / 2, se[:, 1] - se[:, 0]], axis=1).astype(np.float32)
        extra = extra or {}
        if extra.get("relevant_clip_ids") and extra.get("saliency_scores"):
            scores = dict(
                zip(extra["relevant_clip_ids"], (float(sum(s)) for s in extra["saliency_scores"]), strict=False)
            )
            centres = (np.arange(length) + 0.5) * duration / length
            saliency = np.array([scores.get(int(c // self.clip_len), 0.0) for c in centres], np.float32)
        else:
            saliency = moment_mask(windows, duration, length)
        return {"span_targets": spans, "saliency_label": saliency}


def negative_index(batch: dict[str, Any], generator: torch.Generator | None = None) -> Tensor | None:
    """For each query, a random query of another video of the batch (MESM's out-of-class
    negative); None when the batch holds one video. Videos are told apart by ``video_id``."""
    ids = batch.get("video_id")
    n = len(batch["query_mask"])
    if ids is None:
        ids = list(range(n))
    seen: dict[Any, int] = {}
    codes = torch.tensor([seen.setdefault(v, len(seen)) for v in ids])
    other = codes[None, :] != codes[:, None]  # (B, B)
    if not bool(other.any(dim=1).all()):
        return None
    return torch.multinomial(other.float(), 1, generator=generator).squeeze(1)


@register_model("qd_detr", QDDetrConfig)
class QDDetrModel(GroundingModel):
    config: QDDetrConfig
    shares_videos = True

    def __init__(self, config: QDDetrConfig) -> None:
        super().__init__(config)
        c = config
        self.video_proj = InputProjection(c.video_dim, c.hidden, c.input_blocks, c.input_dropout)
        self.text_proj = InputProjection(c.text_dim, c.hidden, c.input_blocks, c.input_dropout)
        self.aligner = T2VStack(c.t2v_layers, c.hidden, c.heads, c.ffn_dim, c.dropout, c.activation)
        self.encoder = GlobalTokenEncoder(c.enc_layers, c.hidden, c.heads, c.ffn_dim, c.dropout, c.activation)
        self.decoder = AnchorDecoder(c.dec_layers, c.hidden, c.heads, c.ffn_dim, c.dropout, c.activation)
        self.anchors = nn.Parameter(torch.randn(c.num_queries, 2))  # unsigmoided (centre, width)
        self.class_head = ClassHead(c.hidden)
        self.span_head = SpanHead(c.hidden)
        self.saliency_head = SaliencyHead(c.hidden)
        self.criterion = SetCriterion(
            HungarianMatcher(c.cost_span, c.cost_giou, c.cost_class),
            c.span_weight,
            c.giou_weight,
            c.label_weight,
            c.eos_coef,
        )
        # (v, mask) -> v: refines the projected, query-agnostic video once per video (MASRA attaches
        # its training-prior-shaped parts here); a plain callable, its parameters are its owner's
        self.video_refiner: Callable[[Tensor, Tensor], Tensor] | None = None

    # -- data hooks ------------------------------------------------------------------------------
    def target_maker(self, config: TargetConfig) -> Callable[..., dict[str, np.ndarray]]:
        return DetrTargets(config)

    def batch_sampler(self, dataset: Any, batch_size: int, seed: int) -> VideoBatchSampler:
        """Whole videos with all their queries, ``batch_size`` videos a batch."""
        return VideoBatchSampler.from_dataset(dataset, batch_size, seed, self.config.max_queries_per_video)

    # -- forward ---------------------------------------------------------------------------------
    def project_video(self, batch: dict[str, Tensor]) -> tuple[Tensor, Tensor, Tensor]:
        """Projected video (U, L, d), its mask and sine positions: once per row of batch["video"]."""
        mask = batch["video_mask"]
        v = zero_padded(self.video_proj(batch["video"]), mask)
        if self.video_refiner is not None:
            v = self.video_refiner(v, mask)
        return v, mask, frame_positions(mask, self.config.hidden).to(v.dtype)

    def project_words(self, batch: dict[str, Tensor]) -> tuple[Tensor, Tensor]:
        mask = batch["query_mask"]
        return zero_padded(self.text_proj(batch["query_tokens"]), mask), mask

    def query_words(self, batch: dict[str, Tensor], state: dict[str, Any]) -> dict[str, tuple[Tensor, Tensor]]:
        """The (words, mask) each query-reading layer gets, by role: ``aligner`` here (MESM adds
        its segment-sentence token there and gives its enhancer the plain words)."""
        return {"aligner": (state["words"], state["words_mask"])}

    def align(self, v: Tensor, pos: Tensor, words: dict[str, tuple[Tensor, Tensor]]) -> Tensor:
        """The query-dependent video: frames attend the words (MESM enhances the frames first)."""
        return self.aligner(v, pos, *words["aligner"])

    def memory(
        self, v: Tensor, vm: Tensor, pos: Tensor, words: dict[str, tuple[Tensor, Tensor]]
    ) -> tuple[Tensor, Tensor]:
        """Aligner then encoder: global (B, d) and local (B, L, d) memory."""
        return self.encoder(self.align(v, pos, words), vm, pos)

    def inputs(self, batch: dict[str, Tensor]) -> tuple[dict[str, Any], dict[str, tuple[Tensor, Tensor]]]:
        """The projections every pass starts from: ``state`` (per query: video ``v``, its mask
        ``vm``, positions ``pos``, projected ``words`` and ``words_mask``) and the words by role
        (``query_words``). The video is projected once per video, then spread to its queries."""
        v, vm, pos = self.project_video(batch)  # once per video
        v, vm, pos = per_query(v, batch), per_query(vm, batch), per_query(pos, batch)
        words, words_mask = self.project_words(batch)
        state: dict[str, Any] = {"v": v, "vm": vm, "pos": pos, "words": words, "words_mask": words_mask}
        return state, self.query_words(batch, state)

    def forward(self, batch: dict[str, Tensor]) -> dict[str, Tensor]:
        self.check_batch(batch)
        state, words = self.inputs(batch)
        v, vm, pos = state["v"], state["vm"], state["pos"]
        g, m = self.memory(v, vm, pos, words)
        hs, refs = self.decoder(m, vm, pos, self.anchors)
        logits, spans = self.class_head(hs), self.span_head(hs, refs)
        out = {"pred_logits": logits[-1], "pred_spans": spans[-1], "saliency": self.saliency_head(m, g, vm)}
        if self.config.aux_loss and len(hs) > 1:
            out |= {"aux_logits": logits[:-1], "aux_spans": spans[:-1]}
        if self.training and self.config.use_negative_pair:
            neg = negative_index(batch)
            if neg is not None:  # the other video's query against this video: aligner + encoder only
                state["negative"] = neg
                ng, nm = self.memory(v, vm, pos, {role: (w[neg], m_[neg]) for role, (w, m_) in words.items()})
                out["neg_saliency"] = self.saliency_head(nm, ng, vm)
        return out | self.extra_outputs(batch, state)

    def extra_outputs(self, batch: dict[str, Tensor], state: dict[str, Any]) -> dict[str, Tensor]:
        """Outputs a subclass's losses need (MESM's reconstructions). None here."""
        return {}

    # -- loss ------------------------------------------------------------------------------------
    def loss(self, outputs: dict[str, Tensor], batch: dict[str, Tensor]) -> dict[str, Tensor]:
        c = self.config
        aux = list(zip(outputs["aux_logits"], outputs["aux_spans"], strict=True)) if "aux_logits" in outputs else None
        parts = self.criterion(
            outputs["pred_logits"], outputs["pred_spans"], batch["span_targets"], batch["span_target_mask"], aux
        )
        total = self.criterion.weighted(parts)
        saliency = self.saliency_losses(outputs, batch)
        total = total + c.saliency_weight * sum(saliency.values())
        return {"total": total, **parts, **saliency}

    def saliency_losses(self, outputs: dict[str, Tensor], batch: dict[str, Tensor]) -> dict[str, Tensor]:
        c = self.config
        mask = per_query(batch["video_mask"], batch)
        scores, labels, neg = outputs["saliency"], batch["saliency_label"], outputs.get("neg_saliency")
        out = {
            "saliency_rank": rank_contrastive_loss(scores, labels, mask, neg, c.rank_tau, c.rank_levels, c.rank_coef)
        }
        if neg is not None:
            out["saliency_neg"] = negative_pair_loss(neg, mask)
        if c.use_margin:
            pos_idx, neg_idx, rows = sample_pairs(labels, mask, c.margin_pairs)
            out["saliency_margin"] = margin_loss(scores, pos_idx, neg_idx, rows, c.saliency_margin)
        return out

    # -- decoding --------------------------------------------------------------------------------
    def decode(self, outputs: dict[str, Tensor], batch: dict[str, Any], k: int = 10) -> list[dict[str, Any]]:
        """Top-min(k, num_queries) windows by foreground probability, in seconds, clipped to the
        video; ``pred_saliency_scores`` per 2-s clip."""
        prob = outputs["pred_logits"].float().softmax(-1)[..., FOREGROUND]
        duration = batch["duration"].to(prob.device, torch.float64)
        se = cw_to_se(outputs["pred_spans"].double()).clamp(0.0, 1.0) * duration[:, None, None]
        top = prob.argsort(dim=1, descending=True)[:, : min(k, prob.shape[1])]
        windows = torch.cat(
            [se.gather(1, top[..., None].expand(-1, -1, 2)), prob.double().gather(1, top)[..., None]], -1
        )
        mask = per_query(batch["video_mask"], batch)
        lengths = mask.sum(dim=1).tolist()
        saliency = outputs["saliency"].float().detach().cpu().numpy()
        out = []
        for i, rows in enumerate(windows.cpu().tolist()):
            d = float(duration[i])
            out.append(
                {
                    "pred_relevant_windows": [[round(s, 4), round(e, 4), round(p, 6)] for s, e, p in rows],
                    "pred_saliency_scores": clip_scores(saliency[i, : lengths[i]], d),
                }
            )
        return out

    def curves(self, outputs: dict[str, Tensor], batch: dict[str, Any]) -> list[dict[str, np.ndarray]]:
        """The saliency of each snippet as a probability (sigmoid of the score)."""
        mask = per_query(batch["video_mask"], batch)
        sal = torch.sigmoid(outputs["saliency"].float()).detach().cpu().numpy()
        return [{"saliency": sal[i, :n]} for i, n in enumerate(mask.sum(dim=1).tolist())]


__all__ = ["DetrTargets", "QDDetrConfig", "QDDetrModel", "negative_index"]
