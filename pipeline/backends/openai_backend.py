"""The ``openai`` backend: any OpenAI-compatible chat endpoint (``vllm serve``, a shared server).

It uses the official ``openai`` client. Frames go in as PNG (or JPEG) data URLs in the chat
message; the server applies the model's chat template. Requests run ``concurrency`` at a time on
a thread pool, each with a timeout. A request that fails with a rate limit (429), a server error
(5xx), a timeout or a refused connection is retried with exponential backoff
(``backoff_s * 2**attempt``, at most ``max_backoff_s``) up to ``max_retries`` times; any other
failure, or the last retry's, becomes an error result (``error_type`` = the exception's class,
``error`` = its message and the attempts made). A JSON schema on the request is sent as
``response_format`` ``json_schema`` (vLLM then decodes under the schema).
"""

from __future__ import annotations

import base64
import io
import os
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numpy as np

from pipeline.backends.adapters import check_image
from pipeline.backends.base import BACKENDS, Backend, GenerationRequest, GenerationResult, SamplingConfig, error_result

DEFAULT_BASE_URL = "http://127.0.0.1:8000/v1"  # `vllm serve` on this machine


def image_data_url(image: np.ndarray, image_format: str = "png") -> str:
    """An HxWx3 uint8 frame as a ``data:image/...;base64,`` URL."""
    from PIL import Image

    buffer = io.BytesIO()
    Image.fromarray(image).save(buffer, format="JPEG" if image_format == "jpeg" else "PNG", quality=95)
    return f"data:image/{image_format};base64,{base64.b64encode(buffer.getvalue()).decode('ascii')}"


def retryable(exc: Exception) -> bool:
    """429, 5xx, timeouts and connection failures are worth another try; a 4xx is not."""
    import openai

    if isinstance(exc, (openai.APIConnectionError, openai.RateLimitError, openai.InternalServerError)):
        return True  # APITimeoutError is an APIConnectionError
    return isinstance(exc, openai.APIStatusError) and exc.status_code >= 500


@BACKENDS.register("openai")
class OpenAIBackend(Backend):
    """Chat completions against ``base_url`` (else ``$OPENAI_BASE_URL``, else ``vllm serve``'s
    default on this machine); ``model`` is the name the server serves. The server
    does not say which weights it serves, so ``model_revision`` stays empty: the served name is the key.
    ``device`` and ``batch_size`` are accepted for the graph's uniform call and ignored (the server
    owns the device and its batching; ``concurrency`` is how many requests are in flight)."""

    name = "openai"

    def __init__(
        self,
        model: str,
        sampling: SamplingConfig,
        device: str = "",
        batch_size: int | None = None,
        base_url: str | None = None,
        api_key: str | None = None,
        concurrency: int = 8,
        timeout_s: float = 120.0,
        max_retries: int = 4,
        backoff_s: float = 0.5,
        max_backoff_s: float = 16.0,
        image_format: str = "png",
    ) -> None:
        if image_format not in ("png", "jpeg"):
            msg = f"openai backend: image_format must be 'png' or 'jpeg', got {image_format!r}"
            raise ValueError(msg)
        if concurrency < 1 or max_retries < 0:
            msg = f"openai backend: need concurrency >= 1 and max_retries >= 0, got {concurrency}, {max_retries}"
            raise ValueError(msg)
        super().__init__(
            model,
            sampling,
            concurrency=concurrency,
            timeout_s=timeout_s,
            max_retries=max_retries,
            backoff_s=backoff_s,
            max_backoff_s=max_backoff_s,
            image_format=image_format,
        )
        self.base_url = base_url or os.environ.get("OPENAI_BASE_URL", DEFAULT_BASE_URL)
        self.api_key = api_key or os.environ.get("OPENAI_API_KEY", "EMPTY")
        self._client: Any = None

    def setup(self) -> None:
        import openai

        if self._client is None:
            # Retries are ours (below), so that every attempt and the final error are visible.
            self._client = openai.OpenAI(
                base_url=self.base_url, api_key=self.api_key, timeout=self.options["timeout_s"], max_retries=0
            )

    def prepare(self, request: GenerationRequest) -> dict[str, Any]:
        """The message of one request (frames as data URLs, then the text)."""
        for i, image in enumerate(request.images):
            check_image(image, i)
        fmt = self.options["image_format"]
        content: list[dict[str, Any]] = [
            {"type": "image_url", "image_url": {"url": image_data_url(image, fmt)}} for image in request.images
        ]
        content.append({"type": "text", "text": request.prompt})
        return {"role": "user", "content": content}

    def chat_arguments(self, request: GenerationRequest, sampling: SamplingConfig | None = None) -> dict[str, Any]:
        """The ``chat.completions.create`` arguments for one request."""
        return self._arguments(request, self.prepare(request), sampling or self.sampling)

    def _arguments(self, request: GenerationRequest, message: dict[str, Any], s: SamplingConfig) -> dict[str, Any]:
        args: dict[str, Any] = {
            "model": self.model,
            "messages": [message],
            "temperature": s.temperature,
            "top_p": s.top_p if s.temperature > 0 else 1.0,
            "max_tokens": s.max_new_tokens,
            "seed": s.seed,
        }
        if request.json_schema is not None:
            schema = {"name": "output", "schema": request.json_schema, "strict": True}
            args["response_format"] = {"type": "json_schema", "json_schema": schema}
        return args

    def run(
        self, requests: list[GenerationRequest], prepared: list[dict[str, Any]], sampling: SamplingConfig
    ) -> list[GenerationResult]:
        """``concurrency`` requests in flight; each retried on its own (never raises for one)."""
        self.setup()
        args = [self._arguments(r, m, sampling) for r, m in zip(requests, prepared, strict=True)]
        with ThreadPoolExecutor(max_workers=self.options["concurrency"]) as pool:
            return list(pool.map(self._generate_one, requests, args))

    def _generate_one(self, request: GenerationRequest, args: dict[str, Any]) -> GenerationResult:
        started = time.perf_counter()
        attempt = 0
        while True:
            try:
                response = self._client.chat.completions.create(**args)
                break
            except Exception as exc:  # noqa: BLE001
                if not retryable(exc) or attempt >= self.options["max_retries"]:
                    n = attempt + 1
                    return error_result(request, exc, f" (after {n} attempt{'s' if n != 1 else ''})")
                time.sleep(min(self.options["max_backoff_s"], self.options["backoff_s"] * 2**attempt))
                attempt += 1
        latency_ms = (time.perf_counter() - started) * 1000.0
        usage = response.usage
        return GenerationResult(
            key=request.key,
            text=(response.choices[0].message.content or "").strip(),
            n_prompt_tokens=usage.prompt_tokens if usage else 0,
            n_output_tokens=usage.completion_tokens if usage else 0,
            latency_ms=latency_ms,
        )
