"""The backend interface: generate text for a batch of {images, prompt} requests.

A backend is chosen by name from BACKENDS (``transformers`` now; ``vllm`` and ``openai`` next).
A failed request is a result with ``status="error"``, never an exception, unless the engine
itself is dead (then raise: that is fatal for the run)."""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from groundwork.registry import Registry


class SamplingConfig(BaseModel):
    """Sampling parameters; part of every cache key. temperature 0 means greedy."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    temperature: float = Field(0.0, ge=0.0)
    top_p: float = Field(1.0, gt=0.0, le=1.0)
    max_new_tokens: int = Field(96, ge=1)
    seed: int = 0


@dataclass
class GenerationRequest:
    key: str  # the cache key of the row this request produces
    prompt: str  # rendered user text (the backend applies the model's chat template)
    images: list[np.ndarray] = field(default_factory=list)  # HxWx3 uint8 RGB frames
    json_schema: dict[str, Any] | None = None  # structured output, when the template has one


@dataclass
class GenerationResult:
    key: str
    text: str
    status: str = "ok"  # ok / error
    error_type: str = ""
    error: str = ""
    n_prompt_tokens: int = 0
    n_output_tokens: int = 0
    latency_ms: float = 0.0
    token_ids: list[int] = field(default_factory=list)


class Backend(ABC):
    """Loads a model once (``setup``) and generates for batches of requests."""

    name: str = "base"

    def __init__(self, model: str, sampling: SamplingConfig, **options: Any) -> None:
        self.model = model
        self.sampling = sampling
        self.options = options

    @property
    def model_revision(self) -> str:
        """A revision string for cache keys (commit hash, or a hash of the local config)."""
        return ""

    def setup(self) -> None:  # noqa: B027 - optional hook
        """Load heavy things once per worker."""

    @abstractmethod
    def generate(self, requests: list[GenerationRequest]) -> list[GenerationResult]:
        """One result per request, same order."""


BACKENDS: Registry[type[Backend]] = Registry("backend")
