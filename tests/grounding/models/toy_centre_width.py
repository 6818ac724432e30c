"""A test-only grounding model whose head is nothing like a span predictor: it regresses one
(centre, width) pair per query, normalised to [0, 1], from a query-attended pooling of the video.
It reads ``context`` (a query-level field) and adds a label field of its own (``cw_target``),
both through the public hooks only. Registering it (importing this module) is all it takes for
training, evaluation, ``Predictor``, the plot and the prediction writer to handle it: that is
what ``test_toy_model.py`` proves."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from pydantic import Field
from torch import Tensor, nn

from grounding.data.fields import FIELDS, BatchField, register_field
from grounding.data.targets import TargetConfig
from grounding.layers.masking import masked_softmax
from grounding.models.base import MODELS, GroundingModel, ModelConfig, register_model

NAME = "toy_centre_width"


class ToyConfig(ModelConfig):
    hidden: int = Field(16, gt=0)


@dataclass(frozen=True)
class CentreWidthTargets:
    keys: tuple[str, ...] = ("cw_target",)

    def __call__(self, windows: list[tuple[float, float]], duration: float, length: int) -> dict[str, np.ndarray]:
        s, e = windows[0]
        return {"cw_target": np.array([(s + e) / 2 / duration, (e - s) / duration], np.float32)}


class ToyCentreWidth(GroundingModel):
    def __init__(self, config: ToyConfig) -> None:
        super().__init__(config)
        h = config.hidden
        self.video = nn.Linear(config.video_dim, h)
        self.query = nn.Linear(config.text_dim, h)
        self.context = nn.Linear(config.text_dim, h)
        self.head = nn.Linear(2 * h, 2)

    @property
    def required_keys(self) -> tuple[str, ...]:
        return ("video", "video_mask", "query_tokens", "query_mask", "context", "context_mask")

    def target_maker(self, config: TargetConfig) -> CentreWidthTargets:
        return CentreWidthTargets()

    def forward(self, batch: dict[str, Tensor]) -> dict[str, Tensor]:
        self.check_batch(batch)
        qm, cm, vm = batch["query_mask"], batch["context_mask"], batch["video_mask"]
        q = (self.query(batch["query_tokens"]) * qm[..., None]).sum(1) / qm.sum(1, keepdim=True).clamp(min=1)
        c = (self.context(batch["context"]) * cm[..., None]).sum(1) / cm.sum(1, keepdim=True).clamp(min=1)
        v = self.video(batch["video"])
        attention = masked_softmax((v * (q + c)[:, None]).sum(-1), vm)
        pooled = (attention[..., None] * v).sum(1)
        cw = torch.sigmoid(self.head(torch.cat([pooled, q], dim=-1)))
        return {"centre_width": cw, "attention": attention}

    def loss(self, outputs: dict[str, Tensor], batch: dict[str, Tensor]) -> dict[str, Tensor]:
        l1 = (outputs["centre_width"] - batch["cw_target"]).abs().sum(-1).mean()
        return {"total": l1, "l1": l1}

    def decode(self, outputs: dict[str, Tensor], batch: dict[str, Any], k: int = 5) -> list[dict[str, Any]]:
        out = []
        for (c, w), d in zip(outputs["centre_width"].tolist(), batch["duration"].tolist(), strict=True):
            s, e = max(0.0, (c - w / 2) * d), min(d, (c + w / 2) * d)
            out.append({"pred_relevant_windows": [[round(s, 4), round(max(e, s), 4), 1.0]]})
        return out

    def curves(self, outputs: dict[str, Tensor], batch: dict[str, Any]) -> list[dict[str, np.ndarray]]:
        lengths = batch["video_mask"].sum(1).tolist()
        return [{"attention": outputs["attention"][i, :n].numpy()} for i, n in enumerate(lengths)]


if "cw_target" not in FIELDS:
    register_field(BatchField("cw_target", "targets", "query", "sentence"))
if NAME not in MODELS:
    register_model(NAME, ToyConfig)(ToyCentreWidth)
