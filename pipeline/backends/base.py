"""The backend interface: generate text for a batch of {images, prompt} requests.

A backend is chosen by name from BACKENDS (``transformers``, ``vllm``, ``openai``; the demo's
pixel-reading stand-in ``shapes``). A failed request is a result with ``status="error"``, never
an exception, unless the engine itself is dead (then raise: that is fatal for the run)."""

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

    temperature: float = Field(0.0, ge=0.0, description="0 = greedy")
    top_p: float = Field(1.0, gt=0.0, le=1.0, description="nucleus sampling mass (with temperature > 0)")
    max_new_tokens: int = Field(96, ge=1, description="longest answer, in tokens")
    seed: int = Field(0, description="sampling seed")


@dataclass
class GenerationRequest:
    key: str  # the cache key of the row this request produces
    prompt: str  # rendered user text (the backend applies the model's chat template)
    images: list[np.ndarray] = field(default_factory=list)  # HxWx3 uint8 RGB frames
    json_schema: dict[str, Any] | None = None  # structured output, when the template has one
    prompt_id: str = ""  # the template the prompt was rendered from (a model ignores it; a stand-in reads it)
    variables: dict[str, Any] = field(default_factory=dict)  # the template's variables (frame times, query)


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


def error_result(request: GenerationRequest, exc: BaseException, note: str = "") -> GenerationResult:
    """The error result of one request: the exception's class and message (plus ``note``)."""
    return GenerationResult(
        key=request.key, text="", status="error", error_type=type(exc).__name__, error=f"{exc}{note}"
    )


class Backend(ABC):
    """Loads a model once (``setup``) and generates for batches of requests.

    ``generate`` is the one skeleton every backend shares: each request is prepared (``prepare``:
    the family's prompt format, image checks; a request that cannot be prepared becomes an error
    result), the prepared ones are split into engine calls (``batches``), each call runs
    (``run``) and, when it fails as a whole, is retried item by item so that only the culprit
    becomes an error result; results come back in the order of the requests. An exception of a
    type in ``fatal`` (a dead engine) is never isolated: it ends the run. Sampling is an argument
    (a structured retry asks again at another temperature), never state to mutate."""

    name: str = "base"
    fatal: tuple[type[BaseException], ...] = ()

    def __init__(self, model: str, sampling: SamplingConfig, **options: Any) -> None:
        self.model = model
        self.sampling = sampling  # the default of generate(); the engine's own seed where it has one
        self.options = options

    @property
    def model_revision(self) -> str:
        """A revision string for cache keys (commit hash, or a hash of the local config)."""
        return ""

    @classmethod
    def key_revision(cls, model: str, options: dict[str, Any]) -> str | None:
        """The revision that goes into cache keys, known before the model loads; None: the
        model's own (a local folder's config and weights, or the hub commit)."""
        return None

    @classmethod  # noqa: B027 - an optional hook (check_run below)
    def check_run(cls, dataset: str) -> None:
        """Refuse (``InputError``) a run this backend must not do (a stand-in on real data)."""

    def setup(self) -> None:  # noqa: B027 - optional hook
        """Load heavy things once per worker."""

    def check_ready(self) -> None:  # noqa: B027 - optional hook
        """Raise (a RuntimeError naming what to do) when ``generate`` cannot run yet."""

    def prepare(self, request: GenerationRequest) -> Any:
        """The request as ``run`` takes it; raise to make it an error result."""
        return request

    def batches(self, ready: list[tuple[int, Any]]) -> list[list[tuple[int, Any]]]:
        """(index, prepared) pairs grouped into engine calls; default: one call for all."""
        return [ready] if ready else []

    @abstractmethod
    def run(
        self, requests: list[GenerationRequest], prepared: list[Any], sampling: SamplingConfig
    ) -> list[GenerationResult]:
        """One engine call: a result per request, same order. Raise when the call fails as a
        whole (``generate`` then isolates the culprit)."""

    def generate(
        self, requests: list[GenerationRequest], sampling: SamplingConfig | None = None
    ) -> list[GenerationResult]:
        """One result per request, same order (see the class doc)."""
        self.check_ready()
        sampling = sampling or self.sampling
        results: dict[int, GenerationResult] = {}
        ready: list[tuple[int, Any]] = []
        for i, request in enumerate(requests):
            try:
                ready.append((i, self.prepare(request)))
            except Exception as exc:  # noqa: BLE001 - one bad request is an error row, not a crash
                results[i] = error_result(request, exc)
        for batch in self.batches(ready):
            for (i, _), result in zip(batch, self._run_isolating(requests, batch, sampling), strict=True):
                results[i] = result
        return [results[i] for i in range(len(requests))]

    def _run_isolating(
        self, requests: list[GenerationRequest], batch: list[tuple[int, Any]], sampling: SamplingConfig
    ) -> list[GenerationResult]:
        try:
            return self.run([requests[i] for i, _ in batch], [p for _, p in batch], sampling)
        except self.fatal:
            raise
        except Exception as exc:  # noqa: BLE001
            if len(batch) == 1:
                return [error_result(requests[batch[0][0]], exc)]
        return [r for item in batch for r in self._run_isolating(requests, [item], sampling)]


BACKENDS: Registry[type[Backend]] = Registry("backend")
