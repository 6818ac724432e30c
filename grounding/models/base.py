"""What every grounding model shares: the MODELS registry (re-exported by grounding.models),
the spec it holds, the config base class and the model base class.

A model maps a batch (the BATCH CONTRACT in grounding/data.py: video (B, L, Dv), video_mask,
query_tokens, query_mask, ...) to ``start_logits``, ``end_logits`` and ``highlight_logits``
(B, L), masked (padded snippets at MASKED_LOGIT), and ``loss(outputs, batch)`` to
``{"total", ...parts}``."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pydantic import BaseModel, ConfigDict
from torch import Tensor, nn

from groundwork.registry import Registry


class ModelConfig(BaseModel):
    """Base of every model config: unknown fields are errors naming the field."""

    model_config = ConfigDict(extra="forbid")


class GroundingModel(nn.Module):
    """Base class: holds ``config`` and checks that a batch has the keys the model reads."""

    def __init__(self, config: ModelConfig) -> None:
        super().__init__()
        self.config = config

    @property
    def required_keys(self) -> tuple[str, ...]:
        """Batch keys ``forward`` reads (labels are read by ``loss`` only)."""
        return ("video", "video_mask", "query_tokens", "query_mask")

    def check_batch(self, batch: dict[str, Tensor]) -> None:
        missing = [k for k in self.required_keys if k not in batch]
        if missing:
            msg = f"{type(self).__name__}: batch lacks {missing}; it has {sorted(batch)}"
            raise ValueError(msg)

    def loss(self, outputs: dict[str, Tensor], batch: dict[str, Tensor]) -> dict[str, Tensor]:
        raise NotImplementedError


@dataclass(frozen=True)
class ModelSpec:
    name: str
    config_cls: type[ModelConfig]
    model_cls: type[GroundingModel]

    def build(self, **cfg: object) -> GroundingModel:
        return self.model_cls(self.config_cls(**cfg))


MODELS: Registry[ModelSpec] = Registry("model")


def register_model(name: str, config_cls: type[ModelConfig]) -> Callable[[type[GroundingModel]], type[GroundingModel]]:
    """Class decorator: ``@register_model("span", SpanConfig) class SpanModel(...)``."""

    def deco(model_cls: type[GroundingModel]) -> type[GroundingModel]:
        MODELS.register(name)(ModelSpec(name, config_cls, model_cls))
        return model_cls

    return deco
