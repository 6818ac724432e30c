"""Grounding models by registry name. Importing this package registers every model.

>>> from grounding.models import MODELS, build_model
>>> model = build_model("tea", video_dim=1024, text_dim=384)
>>> MODELS.get("tea").config_cls   # TeaConfig (pydantic)
"""

from __future__ import annotations

# importing each model module registers it in MODELS
from grounding.models import bridge_stg, granalign, masra, mesm, qd_detr, span, tea  # noqa: F401
from grounding.models.base import MODELS, GroundingModel, ModelConfig, ModelSpec, register_model
from grounding.models.decode import topk_spans


def build_model(name: str, **cfg: object) -> GroundingModel:
    """Build a registered model from config fields; unknown names and invalid fields raise
    ValueError naming them."""
    return MODELS.get(name).build(**cfg)


__all__ = ["MODELS", "GroundingModel", "ModelConfig", "ModelSpec", "build_model", "register_model", "topk_spans"]
