"""GranAlign (Jeon et al., AAAI 2026, arXiv 2601.00584): training-free zero-shot grounding.

All model work happens offline in the priors pipeline: an LLM rewrites each query into m = 3
(simplified, detailed) pairs (``query_rewrite_pairs``), a VLM captions every frame without the
query (``narrative``), a selector picks the query's key frames (``key_frame``) and the VLM
captions those again, guided by the query's entities and actions (``key_frame_caption``). This
model only scores cached sentence vectors: per frame the average of the normalised cosine
similarities of the fixed pairings (Step D, ``grounding.zeroshot.fusion``), then the lineage's
proposal steps (Step E-F, ``grounding.zeroshot.proposals``). It has no parameters and nothing to
fit (``trainable=False``): ``grounding.run_eval.evaluate_untrained`` scores it from its config.

Every parameter the paper leaves open is a config field whose default is the recommendation of
``../shared/methods/granalign.md`` (section 3, the number in each description); the per-dataset
values are in ``configs/granalign_<dataset>.yaml``. Each prediction row carries ``granalign``
metadata: the pairing, the channels that ran, the fallback taken (an unseen query without rewrites
or query-aware captions) and the frame counts.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import torch
from pydantic import Field
from torch import Tensor

from grounding.data.fields import FIELDS
from grounding.models.base import GroundingModel, ModelConfig, register_model
from grounding.zeroshot.fusion import (
    PAIRINGS,
    AwareCaptions,
    Fallback,
    Fused,
    MissingAware,
    Pairing,
    QueryTexts,
    fuse,
)
from grounding.zeroshot.grid import FrameGrid, frame_grid, place_on_grid
from grounding.zeroshot.proposals import ProposalSettings, rank_windows
from grounding.zeroshot.saliency import on_clip_grid

AWARE = "key_frame_captions"
REWRITES = "rewrite_pairs"


class GranAlignConfig(ModelConfig):
    """Scoring and proposal settings; no weights."""

    pairing: Pairing = Field(
        "both",
        description=f"which rewrites meet which captions (Step D and its ablation): "
        f"{', '.join(PAIRINGS)}; both = simplified->agnostic + detailed->aware",
    )
    agnostic: Literal["narrative_frames", "frame_captions", "clip_captions"] = Field(
        "narrative_frames",
        description="batch field of the query-agnostic captions: the per-frame narratives "
        "(default), GranAlign's own per-frame captions (kind frame_caption, prompt caption_frame, notes #2), or the "
        "clip captions",
    )
    missing_aware: MissingAware = Field(
        "zero",
        description="detailed curve on frames without a query-aware caption: "
        "zero after normalising over the key frames (notes #8), or agnostic: the "
        "detailed rewrite against the agnostic caption there",
    )
    fallback: Fallback = Field(
        "simplified",
        description="a query whose pairing needs query-aware captions it lacks "
        "(an unseen query): the simplified channel alone, or the original query against the "
        "agnostic captions",
    )
    eps: float = Field(1e-6, gt=0, description="a curve spanning less than this is constant and becomes 0 (notes #7)")
    bins: int = Field(10, ge=1, description="histogram bins of the dynamic threshold (VTG-GPT; notes #9)")
    top_k: int | None = Field(
        None,
        ge=1,
        description="frames the threshold must reach from the top bin (QVH: 8 of "
        "75 clips, notes #9); unset: top_fraction of the frames",
    )
    top_fraction: float = Field(
        0.1, gt=0, le=1, description="top_k as a fraction of the frames when top_k is unset (notes #9: about 10 %)"
    )
    gap: float = Field(
        12.0,
        ge=0,
        description="tau, seconds: high frames at most this far apart merge (VTG-GPT 6 "
        "clips = 12 s on QVH; Charades 3 s, ANet 12 s; notes #10)",
    )
    drop_fraction: float = Field(
        0.2,
        ge=0,
        lt=1,
        description="bottom fraction of proposals by mean score dropped, at least one kept (notes #11: n = 20 %)",
    )
    length_weight: float = Field(
        0.3, ge=0, le=1, description="lambda of (1 - lambda) mean + lambda length (the paper: 0.3)"
    )
    nms_iou: float = Field(
        0.7, gt=0, le=1, description="NMS IoU threshold (notes #13: 0.7; 0.95 with per_curve_union, as VTG-GPT)"
    )
    per_curve_union: bool = Field(
        False,
        description="also pool the proposals of each normalised rewrite curve before NMS (VTG-GPT's union; notes #13)",
    )
    max_windows: int = Field(10, ge=1, description="windows kept after NMS (notes #13: 10)")
    clip_len: float = Field(2.0, gt=0, description="seconds per pred_saliency_scores entry (QVHighlights' clips)")

    def proposal_settings(self) -> ProposalSettings:
        return ProposalSettings(
            self.bins,
            self.top_k,
            self.top_fraction,
            self.gap,
            self.drop_fraction,
            self.length_weight,
            self.nms_iou,
            self.max_windows,
        )


@dataclass
class Scored:
    """One query scored: its frame grid, fused curve, ranked windows (seconds) and metadata."""

    grid: FrameGrid
    fused: Fused | None
    windows: list[list[float]]
    meta: dict[str, Any]


def _rows(arrays: dict[str, np.ndarray], name: str, i: int) -> tuple[np.ndarray, np.ndarray | None]:
    """Query ``i``'s valid rows of a set field (vectors, and spans when the field has them)."""
    spec = FIELDS.get(name)
    keep = arrays[spec.mask][i]
    return arrays[name][i][keep], (arrays[spec.spans][i][keep] if spec.spans else None)


def score_query(
    texts: QueryTexts,
    grid: FrameGrid,
    aware_vectors: np.ndarray,
    aware_times: np.ndarray,
    duration: float,
    cfg: GranAlignConfig,
) -> Scored:
    """Step D then Steps E-F for one query (what the model does per query, and what
    ``bench/granalign.py`` times)."""
    meta: dict[str, Any] = {"pairing": cfg.pairing, "m": texts.m, "frames": len(grid), "key_frames": 0}
    if not len(grid):
        meta |= {"channels": [], "fallback": "no query-agnostic captions: the whole video"}
        return Scored(grid, None, [[0.0, round(float(duration), 4), 0.0]], meta)
    aware = AwareCaptions(aware_vectors, place_on_grid(aware_times, grid))
    fused = fuse(texts, grid, aware, cfg.pairing, cfg.missing_aware, cfg.fallback, cfg.eps)
    curves = [fused.curve, *fused.rows] if cfg.per_curve_union else [fused.curve]
    windows = rank_windows(curves, grid, cfg.proposal_settings())
    meta |= {"channels": fused.channels, "fallback": fused.fallback, "key_frames": len(aware)}
    return Scored(grid, fused, windows, meta)


@register_model("granalign", GranAlignConfig, trainable=False)
class GranAlignModel(GroundingModel):
    """The scorer as a grounding model: ``forward`` scores every query of a batch, ``decode`` writes
    its windows, its saliency on the ``clip_len`` grid and its metadata. Nothing to train."""

    config: GranAlignConfig

    @property
    def required_keys(self) -> tuple[str, ...]:
        agnostic = FIELDS.get(self.config.agnostic)
        return (
            REWRITES,
            FIELDS.get(REWRITES).mask,
            *agnostic.keys(),
            *FIELDS.get(AWARE).keys(),
            "query_sentence",
            "duration",
        )

    @property
    def loss_keys(self) -> tuple[str, ...]:
        return ()

    def target_maker(self, config: Any) -> None:
        return None

    def forward(self, batch: dict[str, Any]) -> dict[str, Any]:
        self.check_batch(batch)
        arrays = {key: batch[key].cpu().numpy() for key in self.required_keys}  # one copy per batch, not per query
        out = []
        for i in range(len(batch["query_id"])):
            agn, spans = _rows(arrays, self.config.agnostic, i)
            duration = float(arrays["duration"][i])
            pairs, _ = _rows(arrays, REWRITES, i)
            m = len(pairs) // 2
            texts = QueryTexts(arrays["query_sentence"][i], pairs[0 : 2 * m : 2], pairs[1 : 2 * m : 2])
            aware, aware_spans = _rows(arrays, AWARE, i)
            grid = frame_grid(agn, spans, duration)
            out.append(score_query(texts, grid, aware, aware_spans[:, 0], duration, self.config))
        return {"scored": out}

    def loss(self, outputs: dict[str, Tensor], batch: dict[str, Tensor]) -> dict[str, Tensor]:
        msg = "granalign is training-free: it has no loss (score it with grounding-eval / evaluate_untrained)"
        raise RuntimeError(msg)

    def decode(self, outputs: dict[str, Any], batch: dict[str, Any], k: int = 5) -> list[dict[str, Any]]:
        preds = []
        for i, scored in enumerate(outputs["scored"]):
            duration = float(batch["duration"][i])
            curve = scored.fused.curve if scored.fused is not None else np.zeros(0)
            preds.append(
                {
                    "pred_relevant_windows": scored.windows[:k],
                    "pred_saliency_scores": on_clip_grid(
                        curve, scored.grid.starts, scored.grid.ends, duration, self.config.clip_len
                    ),
                    "granalign": scored.meta,
                }
            )
        return preds

    def curves(self, outputs: dict[str, Any], batch: dict[str, Any]) -> list[dict[str, np.ndarray]]:
        return [{"S_f": s.fused.curve} if s.fused is not None else {} for s in outputs["scored"]]

    @torch.inference_mode()
    def predict(self, batch: dict[str, Any], k: int = 5) -> list[dict[str, Any]]:
        return self.decode(self(batch), batch, k)
