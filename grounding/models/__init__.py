"""Grounding models by registry name. Importing this package registers every model.

>>> from grounding.models import MODELS, build_model
>>> model = build_model("tea", video_dim=1024, text_dim=384)
>>> MODELS.get("tea").config_cls   # TeaConfig (pydantic)
"""

from __future__ import annotations

from grounding.models import granalign, masra, span, tea  # noqa: F401  (registers the models)
from grounding.models import mesm, qd_detr  # noqa: F401  (registers the DETR-family models)
from grounding.models import bridge_stg  # noqa: F401  (spatio-temporal grounding)
from grounding.models.base import MODELS, GroundingModel, ModelConfig, ModelSpec, register_model
from grounding.models.decode import topk_spans


def build_model(name: str, **cfg: object) -> GroundingModel:
    """Build a registered model from config fields; unknown names and invalid fields raise
    ValueError naming them."""
    return MODELS.get(name).build(**cfg)


__all__ = ["MODELS", "GroundingModel", "ModelConfig", "ModelSpec", "build_model", "register_model", "topk_spans"]
