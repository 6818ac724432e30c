"""``generate``: the model stage. An actor pool; each actor loads one backend (``setup``) and
generates for the batch's ok rows in one batched call. Rows already in error pass through."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, ClassVar

from pipeline.backends.base import Backend, GenerationRequest
from pipeline.hashing import sha256_text
from pipeline.stages.base import Batch, Resources, Stage

OUTPUT_COLUMNS = ("text", "text_sha256", "raw", "n_prompt_tokens", "n_output_tokens", "latency_ms", "model_called")


class GenerateStage(Stage):
    name: ClassVar[str] = "generate"
    reads: ClassVar[tuple[str, ...]] = ("key", "kind", "prompt", "images", "status")
    writes: ClassVar[tuple[str, ...]] = (*OUTPUT_COLUMNS, "status", "error_type", "error")
    stateful: ClassVar[bool] = True

    def __init__(self, make_backend: Callable[[], Backend], json_schemas: Mapping[str, dict[str, Any] | None],
                 resources: Resources = Resources(cpus=1.0, batch_size=8)) -> None:
        """``make_backend`` builds the (unloaded) backend inside the worker; ``json_schemas`` maps
        a prior kind to its template's schema (structured outputs) or None."""
        self.make_backend = make_backend
        self.json_schemas = dict(json_schemas)
        self.resources = resources
        self.backend: Backend | None = None

    def setup(self) -> None:
        self.backend = self.make_backend()
        self.backend.setup()

    def process_batch(self, batch: Batch) -> Batch:
        if self.backend is None:
            self.setup()
        n = len(batch["key"])
        cols: dict[str, list] = {"text": [""] * n, "text_sha256": [""] * n, "raw": [""] * n,
                                 "n_prompt_tokens": [0] * n, "n_output_tokens": [0] * n,
                                 "latency_ms": [0.0] * n, "model_called": [False] * n,
                                 "status": list(batch["status"]), "error_type": list(batch["error_type"]),
                                 "error": list(batch["error"])}
        todo = [i for i in range(n) if cols["status"][i] == "ok"]
        requests = [GenerationRequest(key=str(batch["key"][i]), prompt=str(batch["prompt"][i]),
                                      images=list(batch["images"][i]),
                                      json_schema=self.json_schemas.get(str(batch["kind"][i])))
                    for i in todo]
        results = self.backend.generate(requests) if requests else []
        if len(results) != len(requests):
            msg = f"generate: backend '{self.backend.name}' returned {len(results)} results for {len(requests)} requests"
            raise RuntimeError(msg)
        for i, res in zip(todo, results, strict=True):
            cols["model_called"][i] = True
            cols["n_prompt_tokens"][i], cols["n_output_tokens"][i] = res.n_prompt_tokens, res.n_output_tokens
            cols["latency_ms"][i] = res.latency_ms
            if res.status == "ok":
                cols["text"][i], cols["text_sha256"][i] = res.text, sha256_text(res.text)
            else:
                cols["raw"][i] = res.text
                cols["status"][i], cols["error_type"][i] = "error", res.error_type or "generation_error"
                cols["error"][i] = f"generate: key {res.key}: {res.error}"
        return {**batch, **cols}
