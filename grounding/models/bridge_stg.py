"""``bridge_stg``: Bridge-STG (arXiv 2604.08014, "Bridging Time and Space: Decoupled
Spatio-Temporal Alignment for Video Grounding") as the lightweight design of
``shared/methods/bridge_stg.md`` section 2 (OUR DESIGN: only the abstract of the paper is public;
section numbers below are the notes').

Spatio-temporal grounding from caches only: "when" comes from a temporal branch, "where" from a
spatial decoder, and the two meet only through a few bridging queries.

    temporal branch  = the ``span`` model, reused (encode -> prepare -> ground_prepared with its
                       last layers' states kept), its start / end logits restricted to the query's
                       segment (2.2.1)
    m                = soft temporal mask: the predicted span's inside probability, max the
                       cached prior's span as a soft box (ETA stand-in, 2.2.2, ``temporal_mask``)
    B                = BridgeBuilder(H_start, H_end | Q | R | [segment summary, span-end times];
                       bias log(m + eps) on H)  (STSB stand-in, 2.2.2, ``bridge``)
    x_t              = W mean(B) + e + TimePE(t) for each selected frame t
    boxes, presence  = SpatialDecoder(x, B, patches_t)  (QGSL stand-in, 2.2.3, ``spatial_decoder``)

Training samples up to ``n_pos`` frames inside the GT tube (box + presence losses) and ``n_neg``
outside it (presence only) (2.2.4, ``frame_sampling``); inference decodes every grid frame.
Losses (2.3): the span model's own (Eq. 15-17 of TEA) + 5 L1 (cx, cy, w, h) + 2 (1 - gIoU) on
positive frames + 1 presence BCE, at every decoder layer (mean over layers).

Modes (``mode``): ``bridge`` (the method); ``coupled`` (the notes' baseline: no bridge, the decoder
reads the query words directly and its frame queries start from their mean; no prior, no ETA);
``whole_frame`` (the temporal branch alone, a whole-frame box on every frame: no spatial decoder).

Switches (2.5): ``bridge_layers`` (which temporal states: one layer or several), ``use_prior_text``
(the prior's reasoning and target vectors as bridge tokens), ``eta`` (temporal mask bias + span
tokens), ``eta_source``, ``interactive`` (bridge re-injected at every decoder layer or the first
only), ``update_bridge``, ``neg_frames``, ``detach_temporal`` (decoupled vs end-to-end).

Decoding (2.4): the best span under p_s(i) p_e(j), j >= i (TubeDETR's rule, ``span`` decode) in
seconds; its grid frames give ``sted = [fid_first, fid_last + 1]`` (raw frame ids, end exclusive;
the grid frame nearest the window's centre when the window holds none) and ``boxes`` ``{fid:
[x1, y1, x2, y2]}`` in pixels on every grid frame, next to ``pred_relevant_windows``: the STVG
record format of ``grounding.metrics.stvg_records``.

Differences from the notes, all ours: the prior's text enters the bridge as two sentence vectors
(reasoning, target) rather than its token sequence (the cache keeps sentence vectors of prior
rows); the prior's span is also an input channel of the temporal branch (``prior_in_temporal``, in
every mode so the baselines share the temporal branch: val m_tIoU 41 -> 66 on the demo); one
hidden size for both branches (notes: d = 256 for the spatial side); the predicted-span mask is the
differentiable inside probability instead of a Gaussian-softened argmax box, and the ETA mask is
the max of both spans when the prior has one (``eta_source``); the decoder's box centres are
anchored on its attention over the patches, and the patch positions ride in the attention values
(``spatial_decoder``; without them the boxes sat on a 15-epoch plateau); the coupled baseline
predicts boxes on every grid frame (the metric reads those of the predicted segment); no
contrastive term, no DAB refinement of the box size, no presence-temporal fusion.
"""

from __future__ import annotations

from typing import Any, Literal

import numpy as np
import torch
import torch.nn.functional as F
from pydantic import Field, model_validator
from torch import Tensor, nn

from grounding.data.collate import per_query
from grounding.data.targets import SpanTargets, TargetConfig
from grounding.layers.detr.sine_positions import frame_positions, scalar_embedding
from grounding.layers.masking import mask_logits, masked_softmax
from grounding.layers.stvg import (
    BridgeBuilder,
    SpatialDecoder,
    box_cxcywh_to_xyxy,
    box_xyxy_to_cxcywh,
    generalized_box_iou,
    inside_probability,
    sample_frames,
    soft_box,
)
from grounding.models.base import GroundingModel, register_model
from grounding.models.decode import span_windows
from grounding.models.span import SpanConfig, SpanModel

StateName = Literal["fused", "start", "end"]
STATE_KEYS = {"fused": "fused_states", "start": "start_states", "end": "end_states"}
FRAME_KEYS = ("frame_ids", "frame_mask", "frame_times", "frame_size", "query_segment", "duration")
PRIOR_KEYS = ("reasoning_prior", "reasoning_prior_mask", "reasoning_prior_spans")
LABEL_KEYS = ("frame_boxes", "frame_presence")


class BridgeSTGConfig(SpanConfig):
    """The temporal branch's fields are ``span``'s (``hidden``, ``heads``, ``dropout``, ...)."""

    mode: Literal["bridge", "coupled", "whole_frame"] = Field(
        "bridge",
        description="bridge (the method), coupled (no bridge: the decoder reads the query words), "
        "whole_frame (temporal branch alone, whole-frame boxes)",
    )
    patch_dim: int = Field(
        768,
        gt=0,
        description="width Dp of the per-frame patch tokens (the vision tower's "
        "hidden size: 768 for CLIP ViT-B, 64 for the demo's tiny CLIP)",
    )
    n_bridge: int = Field(8, ge=1, description="bridging queries N_b (notes: 8)")
    bridge_depth: int = Field(2, ge=1, description="bridge builder layers (notes: 2)")
    bridge_layers: list[StateName] = Field(
        default_factory=lambda: ["start", "end"],
        min_length=1,
        description="temporal states the bridge reads: several = multi-layer "
        "aggregation (fused: V^ o h, start / end: the span LSTMs)",
    )
    use_prior_text: bool = Field(True, description="the cached reasoning prior (reasoning, target) as bridge tokens")
    eta: bool = Field(True, description="ETA stand-in: temporal mask bias on the states + span tokens")
    eta_source: Literal["both", "predicted", "prior"] = Field(
        "both",
        description="the mask's span: the max of the predicted span's inside probability and the prior's "
        "soft box (both), one of them (prior falls back to predicted where a query has no prior)",
    )
    eta_sigma: float = Field(1.0, gt=0.0, description="Gaussian edge of the prior's soft box, in snippets")
    spatial_layers: int = Field(3, ge=1, description="spatial decoder layers L_s (notes: 3)")
    spatial_dropout: float = Field(0.1, ge=0.0, lt=1.0, description="dropout of the bridge and the spatial decoder")
    interactive: bool = Field(
        True, description="bridging queries re-injected at every decoder layer (else the first only)"
    )
    update_bridge: bool = Field(False, description="also update the bridging queries from the frames after each layer")
    neg_frames: bool = Field(True, description="train on negative frames (outside the GT tube, presence only)")
    n_pos: int = Field(16, ge=1, description="positive frames per query in training (notes: 16)")
    n_neg: int = Field(8, ge=0, description="negative frames per query in training (notes: 8)")
    detach_temporal: bool = Field(False, description="stop the bridge's gradient at the temporal branch")
    prior_in_temporal: bool = Field(
        True,
        description="the prior's span, as a soft box over the snippets, is one "
        "more input channel of the temporal branch (the notes' span model over V + Q + R; "
        "every mode, so the baselines share the temporal branch)",
    )
    box_l1_weight: float = Field(5.0, ge=0.0, description="L1 on (cx, cy, w, h) (TubeDETR / CG-STVG: 5)")
    box_giou_weight: float = Field(2.0, ge=0.0, description="1 - gIoU (2)")
    presence_weight: float = Field(1.0, ge=0.0, description="presence BCE (1)")

    @model_validator(mode="after")
    def _check_bridge(self) -> BridgeSTGConfig:
        if len(set(self.bridge_layers)) != len(self.bridge_layers):
            msg = f"bridge_layers={self.bridge_layers} names a layer twice"
            raise ValueError(msg)
        return self

    def span_config(self) -> SpanConfig:
        values = {k: getattr(self, k) for k in SpanConfig.model_fields}
        return SpanConfig.model_validate(values | {"video_dim": self.video_dim + int(self.prior_in_temporal)})

    @property
    def reads_prior(self) -> bool:
        bridge = self.mode == "bridge" and (self.use_prior_text or (self.eta and self.eta_source != "predicted"))
        return bridge or self.prior_in_temporal


def segment_mask(segment: Tensor, duration: Tensor, mask: Tensor) -> Tensor:
    """(B, L) bool: valid snippets overlapping the query's segment (seconds); a row whose segment
    meets no snippet keeps every valid one."""
    n = mask.sum(dim=1, keepdim=True).clamp(min=1).to(segment.dtype)
    step = duration[:, None].to(segment.dtype) / n
    i = torch.arange(mask.shape[1], device=mask.device, dtype=segment.dtype)[None, :]
    inside = mask & (i * step < segment[:, 1:]) & ((i + 1) * step > segment[:, :1])
    return torch.where(inside.any(dim=1, keepdim=True), inside, mask)


def patch_centres(p: int, device: torch.device) -> Tensor:
    """(P, 2) (x, y) centres in [0, 1] of a g x g grid's cells, row-major (row 0 at the top)."""
    g = round(p**0.5)
    if g * g != p:
        msg = f"frame_patches hold {p} patches per frame; a square grid (g x g) is needed"
        raise ValueError(msg)
    centres = (torch.arange(g, device=device, dtype=torch.float32) + 0.5) / g
    cy, cx = torch.meshgrid(centres, centres, indexing="ij")
    return torch.stack([cx.reshape(-1), cy.reshape(-1)], dim=-1)


def patch_positions(centres: Tensor, dim: int) -> Tensor:
    """(P, dim) 2-D sine positions of patch centres (P, 2): x then y halves."""
    return torch.cat(
        [scalar_embedding(centres[:, 0], dim // 2), scalar_embedding(centres[:, 1], dim - dim // 2)], dim=-1
    )


def _gather(x: Tensor, index: Tensor) -> Tensor:
    """x (B, F, ...) at index (B, S) -> (B, S, ...)."""
    shape = index.shape + x.shape[2:]
    return x.gather(1, index.reshape(*index.shape, *([1] * (x.dim() - 2))).expand(shape))


@register_model("bridge_stg", BridgeSTGConfig)
class BridgeSTGModel(GroundingModel):
    """Videos are not shared among queries in a batch: each query's temporal input carries its own
    prior channel (``prior_in_temporal``)."""

    config: BridgeSTGConfig
    boxes = True

    def __init__(self, config: BridgeSTGConfig) -> None:
        super().__init__(config)
        c, d = config, config.hidden
        self.temporal = SpanModel(c.span_config())  # 2.2.1: the span model, reused
        if c.mode == "whole_frame":
            return
        self.patch_proj = nn.Sequential(nn.Linear(c.patch_dim, d), nn.LayerNorm(d))
        self.frame_query = nn.Linear(d, d)
        self.frame_embed = nn.Parameter(torch.randn(d) * 0.02)
        self.decoder = SpatialDecoder(d, c.heads, c.spatial_layers, c.spatial_dropout, c.interactive, c.update_bridge)
        if c.mode == "coupled":
            self.guide_proj = nn.Linear(d, d)
            return
        n_tokens = 1 + int(c.use_prior_text) + int(c.eta)
        self.bridge = BridgeBuilder(
            d, c.heads, c.n_bridge, c.bridge_depth, len(c.bridge_layers), n_tokens, c.spatial_dropout
        )
        self.prior_proj = nn.Linear(c.text_dim, d) if c.use_prior_text else None
        self.span_tokens = nn.Linear(d, d) if c.eta else None

    # -- contract ----------------------------------------------------------------------------
    @property
    def required_keys(self) -> tuple[str, ...]:
        keys = (*self.temporal.required_keys, *FRAME_KEYS)
        if self.config.mode != "whole_frame":
            keys += ("frame_patches",)
        return keys + (PRIOR_KEYS if self.config.reads_prior else ())

    @property
    def loss_keys(self) -> tuple[str, ...]:
        labels = LABEL_KEYS if self.config.mode != "whole_frame" else ()
        return (*SpanTargets(TargetConfig()).keys, *labels)

    # -- forward -----------------------------------------------------------------------------
    def forward(self, batch: dict[str, Any]) -> dict[str, Tensor]:
        self.check_batch(batch)
        c, t = self.config, self.temporal
        vm = per_query(batch["video_mask"], batch)
        video = per_query(batch["video"], batch)
        if c.prior_in_temporal:  # the prior's span as one more input channel (zeros without a prior)
            has = batch["reasoning_prior_mask"][:, :1].to(video.dtype)
            prior = soft_box(batch["reasoning_prior_spans"][:, 0].float(), batch["duration"].float(), vm, c.eta_sigma)
            video = torch.cat([video, (prior * has).unsqueeze(-1).to(video.dtype)], dim=-1)
        temporal_batch = {k: v for k, v in batch.items() if k != "video_index"} | {"video": video, "video_mask": vm}
        v, q = t.encode(temporal_batch)
        out = t.ground_prepared(t.prepare(v, vm), vm, q, batch["query_mask"], keep_states=True)
        seg = segment_mask(batch["query_segment"], batch["duration"], vm)
        out["start_logits"] = mask_logits(out["start_logits"], seg)  # 2.2.1: only inside the query's segment
        out["end_logits"] = mask_logits(out["end_logits"], seg)
        if c.mode == "whole_frame":
            return out
        states = [out[STATE_KEYS[name]] for name in c.bridge_layers]
        logits = (out["start_logits"], out["end_logits"])
        if c.detach_temporal:
            states, logits, q = [s.detach() for s in states], tuple(x.detach() for x in logits), q.detach()
        if c.mode == "coupled":
            guide, guide_mask = self.guide_proj(q), batch["query_mask"]
        else:
            guide = self._bridge(batch, states, logits, q, vm)
            guide_mask = torch.ones(guide.shape[:2], dtype=torch.bool, device=guide.device)
        return out | self._spatial(batch, guide, guide_mask)

    def _eta_mask(self, batch: dict[str, Any], logits: tuple[Tensor, Tensor], vm: Tensor) -> Tensor:
        """The soft temporal mask m (B, L) (2.2.2)."""
        c = self.config
        predicted = inside_probability(*logits, vm)
        if c.eta_source == "predicted":
            return predicted
        spans, has = batch["reasoning_prior_spans"][:, 0], batch["reasoning_prior_mask"][:, 0]
        prior = soft_box(spans.float(), batch["duration"].float(), vm, c.eta_sigma)
        combined = torch.maximum(predicted, prior) if c.eta_source == "both" else prior
        return torch.where(has[:, None], combined, predicted)

    def _bridge(
        self, batch: dict[str, Any], states: list[Tensor], logits: tuple[Tensor, Tensor], q: Tensor, vm: Tensor
    ) -> Tensor:
        c, d = self.config, self.config.hidden
        tokens = [(q, batch["query_mask"])]
        if self.prior_proj is not None:
            tokens.append((self.prior_proj(batch["reasoning_prior"]), batch["reasoning_prior_mask"]))
        m = None
        if c.eta and self.span_tokens is not None:
            m = self._eta_mask(batch, logits, vm).to(states[-1].dtype)
            summary = (states[-1] * m.unsqueeze(-1)).sum(1) / m.sum(1, keepdim=True).clamp(min=1e-6)
            n = vm.sum(1, keepdim=True).clamp(min=1).to(m.dtype)
            centres = (torch.arange(vm.shape[1], device=vm.device, dtype=m.dtype)[None, :] + 0.5) / n
            p_s, p_e = (masked_softmax(x.float(), vm) for x in logits)
            ends = torch.stack([(p_s * centres).sum(1), (p_e * centres).sum(1)], dim=-1)  # expected start / end
            times = torch.cat([scalar_embedding(ends[:, 0], d // 2), scalar_embedding(ends[:, 1], d - d // 2)], -1)
            extra = torch.stack([summary, self.span_tokens(times.to(summary.dtype))], dim=1)
            tokens.append((extra, torch.ones(extra.shape[:2], dtype=torch.bool, device=extra.device)))
        pos = frame_positions(vm, d).to(states[0].dtype)
        return self.bridge(states, vm, pos, tokens, m)

    def _spatial(self, batch: dict[str, Any], guide: Tensor, guide_mask: Tensor) -> dict[str, Tensor]:
        c, d = self.config, self.config.hidden
        patches, fmask = batch["frame_patches"], batch["frame_mask"]
        if patches.shape[-1] != c.patch_dim:
            msg = f"frame_patches have width {patches.shape[-1]}, the model's patch_dim is {c.patch_dim}"
            raise ValueError(msg)
        times = batch["frame_times"] / batch["duration"][:, None].clamp(min=1e-6)
        index = torch.arange(fmask.shape[1], device=fmask.device).expand_as(fmask)
        selected = fmask
        if self.training and "frame_presence" in batch:  # 2.2.4: positive / negative frames
            index, selected = sample_frames(batch["frame_presence"], fmask, c.n_pos, c.n_neg if c.neg_frames else 0)
        tokens = self.patch_proj(_gather(patches, index))  # (B, S, P, d)
        weights = guide_mask.unsqueeze(-1).to(guide.dtype)
        start = self.frame_query((guide * weights).sum(1) / weights.sum(1).clamp(min=1.0))
        x = (start.unsqueeze(1) + self.frame_embed).expand(-1, index.shape[1], -1)
        pos = scalar_embedding(_gather(times, index), d).to(x.dtype)
        centres = patch_centres(patches.shape[2], patches.device)
        boxes, presence = self.decoder(
            x, pos, selected, guide, guide_mask, tokens, patch_positions(centres, d).to(x.dtype), centres
        )
        return {"frame_index": index, "frame_selected": selected, "boxes": boxes, "presence_logits": presence}

    # -- loss ----------------------------------------------------------------------------------
    def loss(self, outputs: dict[str, Tensor], batch: dict[str, Any]) -> dict[str, Tensor]:
        c = self.config
        parts = self.temporal.loss(outputs, batch)
        if c.mode == "whole_frame":
            return parts
        # the training loop casts every output to float (bf16 autocast): back to an index and a mask
        index, selected = outputs["frame_index"].long(), outputs["frame_selected"] > 0.5
        presence = _gather(batch["frame_presence"], index) * selected
        positive = selected & (presence > 0.5)
        gt = box_xyxy_to_cxcywh(_gather(batch["frame_boxes"], index))
        n_boxes = positive.sum().clamp(min=1)
        l1 = giou = bce = outputs["boxes"].new_zeros(())
        for boxes, logits in zip(outputs["boxes"], outputs["presence_logits"], strict=True):  # every layer
            l1 = l1 + ((boxes - gt).abs().sum(-1) * positive).sum() / n_boxes
            g = generalized_box_iou(box_cxcywh_to_xyxy(boxes), box_cxcywh_to_xyxy(gt))
            giou = giou + ((1 - g) * positive).sum() / n_boxes
            per_frame = F.binary_cross_entropy_with_logits(logits, presence, reduction="none")
            bce = bce + (per_frame * selected).sum() / selected.sum().clamp(min=1)
        layers = outputs["boxes"].shape[0]
        l1, giou, bce = l1 / layers, giou / layers, bce / layers
        total = parts["total"] + c.box_l1_weight * l1 + c.box_giou_weight * giou + c.presence_weight * bce
        return parts | {"total": total, "box_l1": l1, "box_giou": giou, "presence": bce}

    # -- decoding ------------------------------------------------------------------------------
    def decode(self, outputs: dict[str, Tensor], batch: dict[str, Any], k: int = 5) -> list[dict[str, Any]]:
        """``pred_relevant_windows`` (seconds) plus the STVG record keys ``sted`` and ``boxes`` (2.4)."""
        vm = per_query(batch["video_mask"], batch)
        windows = span_windows(outputs["start_logits"], outputs["end_logits"], vm, batch["duration"], k)
        fmask = batch["frame_mask"].cpu()
        fids, times, size = batch["frame_ids"].cpu(), batch["frame_times"].float().cpu(), batch["frame_size"].cpu()
        boxes = None
        if self.config.mode != "whole_frame":
            boxes = box_cxcywh_to_xyxy(outputs["boxes"][-1].float()).clamp(0.0, 1.0).cpu()
        out = []
        for i, w in enumerate(windows):
            n = int(fmask[i].sum())
            ids, t = fids[i, :n].tolist(), times[i, :n]
            start, end = w[0][0], w[0][1]
            inside = ((t >= start) & (t < end)).nonzero().squeeze(1).tolist()
            if not inside:
                inside = [int((t - 0.5 * (start + end)).abs().argmin())] if n else []
            sted = [ids[inside[0]], ids[inside[-1]] + 1] if inside else [0, 1]
            width, height = (float(x) for x in size[i])
            scale = torch.tensor([width, height, width, height])
            frame_boxes = [[0.0, 0.0, width, height]] * n if boxes is None else (boxes[i, :n] * scale).tolist()
            out.append(
                {
                    "pred_relevant_windows": w,
                    "sted": sted,
                    "boxes": {f: [round(x, 2) for x in b] for f, b in zip(ids, frame_boxes, strict=True)},
                    "frame_size": [width, height],
                }
            )
        return out

    def curves(self, outputs: dict[str, Tensor], batch: dict[str, Any]) -> list[dict[str, np.ndarray]]:
        return self.temporal.curves(outputs, batch)
