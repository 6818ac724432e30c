"""What every grounding model shares: the MODELS registry (re-exported by grounding.models), the
spec it holds, the config base class and the model base class.

A model is a ``GroundingModel``. Besides ``forward(batch) -> outputs`` and ``loss(outputs,
batch) -> {"total", ...parts}`` it owns everything that depends on its head, so that training,
evaluation, ``Predictor``, the prediction writer and the timeline plot never look inside its
outputs:

- ``required_keys``: the batch fields ``forward`` reads (``grounding.data.fields``); only these
  are loaded for inference;
- ``loss_keys``: the fields only the loss reads (labels, training-only priors), loaded for the
  training split;
- ``target_maker(config)``: a picklable callable that turns one query's windows into its label
  fields (None: the model needs no per-query labels beyond the windows);
- ``decode(outputs, batch, k)``: one prediction per query, ``{"pred_relevant_windows": [[start,
  end, score], ...]}`` in seconds, best first, plus any extra community keys (for example
  ``pred_saliency_scores``, per ``clip_len`` seconds), which the writer passes through;
- ``curves(outputs, batch)``: named per-snippet curves for the plot (probabilities, saliency);
- ``batch_sampler(dataset, batch_size, seed)``: how training batches are drawn (None: shuffled
  queries);
- ``fit_data(dataset)``: statistics the model takes from its training split before the first
  step (MESM: its word vocabulary), held in its buffers so checkpoints carry them; it returns
  what the run records about them (``<run>/model_data.json``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np
import torch
from pydantic import BaseModel, ConfigDict, Field
from torch import Tensor, nn

from grounding.data.targets import SpanTargets, TargetConfig
from groundwork.errors import InputError
from groundwork.registry import Registry

SALIENCY_CLIP_LEN = 2.0  # seconds per pred_saliency_scores entry (QVHighlights' clips)


class ModelConfig(BaseModel):
    """Base of every model config: the input sizes, filled from the data; unknown fields are
    errors naming the field."""

    model_config = ConfigDict(extra="forbid")

    video_dim: int = Field(1024, gt=0, description="input video feature size Dv (set from the features)")
    text_dim: int = Field(384, gt=0, description="input text feature size Dt (set from the text encoder)")


def clip_scores(values: np.ndarray, duration: float, clip_len: float = SALIENCY_CLIP_LEN) -> list[float]:
    """Per-snippet scores (n,) over a video of ``duration`` s as one score per ``clip_len`` clip:
    the overlap-weighted mean of the snippets that cover each clip (snippet i covers
    [i, i + 1) * duration / n)."""
    n = len(values)
    n_clips = max(1, int(np.ceil(round(duration / clip_len, 6))))
    edges = np.arange(n + 1) * duration / n
    out = []
    for c in range(n_clips):
        lo, hi = c * clip_len, min((c + 1) * clip_len, duration)
        overlap = np.clip(np.minimum(edges[1:], hi) - np.maximum(edges[:-1], lo), 0.0, None)
        total = overlap.sum()
        out.append(round(float((overlap * values).sum() / total), 4) if total > 0 else 0.0)
    return out


class GroundingModel(nn.Module):
    """Base class: holds ``config`` and checks that a batch has the keys the model reads."""

    # True: forward accepts a batch that holds each video once (``collate(share_videos=True)``,
    # ``video_index``) and runs its query-independent layers once per video.
    shares_videos: ClassVar[bool] = False
    # True: a spatio-temporal model (a box on every frame, STVG data: boxes, frame patches); the
    # Charades-STA-shaped benchmarks (bench/detr_epoch.py, bench/detr_inference.py) leave it out.
    boxes: ClassVar[bool] = False

    def __init__(self, config: ModelConfig) -> None:
        super().__init__()
        self.config = config

    @property
    def required_keys(self) -> tuple[str, ...]:
        """Batch fields ``forward`` reads."""
        return ("video", "video_mask", "query_tokens", "query_mask")

    @property
    def loss_keys(self) -> tuple[str, ...]:
        """Batch fields only ``loss`` reads (training split only). Default: the labels of
        ``target_maker``."""
        maker = self.target_maker(TargetConfig())
        return tuple(maker.keys) if maker is not None else ()

    def target_maker(self, config: TargetConfig) -> Callable[..., dict[str, np.ndarray]] | None:
        """Labels of one query from its windows (default: TEA's start / end / foreground sets)."""
        return SpanTargets(config)

    def check_batch(self, batch: dict[str, Tensor]) -> None:
        missing = [k for k in self.required_keys if k not in batch]
        if missing:
            msg = f"{type(self).__name__}: batch lacks {missing}; it has {sorted(batch)}"
            raise ValueError(msg)

    def loss(self, outputs: dict[str, Tensor], batch: dict[str, Tensor]) -> dict[str, Tensor]:
        raise NotImplementedError

    def decode(self, outputs: dict[str, Tensor], batch: dict[str, Any], k: int = 5) -> list[dict[str, Any]]:
        """One prediction per query (see the module doc)."""
        raise NotImplementedError

    def curves(self, outputs: dict[str, Tensor], batch: dict[str, Any]) -> list[dict[str, np.ndarray]]:
        """Per query, named curves over its valid snippets (for plots). Default: none."""
        return [{} for _ in batch["query_id"]]

    def batch_sampler(self, dataset: Any, batch_size: int, seed: int) -> Iterable[list[int]] | None:
        """Index batches for one training epoch; None: shuffled queries, ``batch_size`` a batch."""
        return None

    def fit_data(self, dataset: Any) -> dict[str, Any]:
        """Called by training once with the training dataset before the first step; returns
        metadata for the run (default: nothing to learn from the data, {})."""
        return {}

    @torch.inference_mode()
    def predict(self, batch: dict[str, Any], k: int = 5) -> list[dict[str, Any]]:
        """``decode(forward(batch))`` in eval mode."""
        return self.decode(self(batch), batch, k)


@dataclass(frozen=True)
class ModelSpec:
    name: str
    config_cls: type[ModelConfig]
    model_cls: type[GroundingModel]
    trainable: bool = True  # False: zero-shot, nothing to fit (grounding-eval scores it directly)

    def build(self, **cfg: object) -> GroundingModel:
        return self.model_cls(self.config_cls(**cfg))


MODELS: Registry[ModelSpec] = Registry("model")


def register_model(
    name: str,
    config_cls: type[ModelConfig],
    trainable: bool = True,
) -> Callable[[type[GroundingModel]], type[GroundingModel]]:
    """Class decorator: ``@register_model("span", SpanConfig) class SpanModel(...)``."""

    def deco(model_cls: type[GroundingModel]) -> type[GroundingModel]:
        if not issubclass(config_cls, ModelConfig):
            msg = f"model '{name}': its config class {config_cls.__name__} must subclass ModelConfig"
            raise InputError(msg)
        MODELS.register(name)(ModelSpec(name, config_cls, model_cls, trainable))
        return model_cls

    return deco
