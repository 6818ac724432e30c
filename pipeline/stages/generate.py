"""``generate``: the model stage. An actor pool; each actor loads one backend (``setup``) and
generates for the batch's ok rows in one batched call. Rows already in error pass through.

Structured kinds (a ``Structurer`` per kind, ``pipeline.kinds.structured``): each answer is parsed and
validated; an invalid one (invalid_json, schema_violation, bad_span) is asked again up to
``RetryPolicy.retries`` times, all pending rows of an attempt in one batched call, sampled with
``RetryPolicy.sampling(base, attempt)``: temperature > 0 and seed ``base.seed + attempt``, so a
retry can answer differently (a greedy re-ask would repeat itself).
That retry sampling is written only to the row's ``sampling`` column (provenance); cache keys
keep the configured sampling, so a rerun finds the row. Still invalid: one error row, the last
answer kept in ``raw``. A valid answer leaves ``text`` empty and its items in ``items`` (JSON)
for the write stage to expand."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

from groundwork.cache.hashing import canonical_json, sha256_text
from pipeline.backends.base import Backend, GenerationRequest, GenerationResult, SamplingConfig
from pipeline.kinds.structured import Outcome, Structurer
from pipeline.stages.base import Batch, ModelStage, Resources

OUTPUT_COLUMNS = ("text", "text_sha256", "raw", "n_prompt_tokens", "n_output_tokens", "latency_ms", "model_called")
STRUCTURED_COLUMNS = ("items", "n_items", "n_clipped", "n_dropped", "n_merged", "n_retries", "invalid", "sampling_used")


@dataclass(frozen=True)
class RetryPolicy:
    retries: int = 2
    temperature: float = 0.7

    def sampling(self, base: SamplingConfig, attempt: int) -> SamplingConfig:
        return base.model_copy(
            update={"temperature": max(base.temperature, self.temperature), "seed": base.seed + attempt}
        )


class GenerateStage(ModelStage):
    name: ClassVar[str] = "generate"
    reads: ClassVar[tuple[str, ...]] = (
        "key",
        "kind",
        "video_id",
        "prompt",
        "prompt_id",
        "prompt_vars",
        "images",
        "status",
        "error_type",
        "error",
        "t_start",
        "t_end",
    )
    writes: ClassVar[tuple[str, ...]] = (*OUTPUT_COLUMNS, *STRUCTURED_COLUMNS, "status", "error_type", "error")

    def __init__(
        self,
        make_backend: Callable[[], Backend],
        json_schemas: Mapping[str, dict[str, Any] | None],
        resources: Resources = Resources(cpus=1.0, batch_size=8),
        structurers: Mapping[str, Structurer] | None = None,
        retry: RetryPolicy = RetryPolicy(),
        samplings: Mapping[str, SamplingConfig] | None = None,
    ) -> None:
        """``make_backend`` builds the (unloaded) backend inside the worker; ``json_schemas`` maps
        a prior kind to its template's schema (structured outputs) or None; ``structurers``
        parse the answers of structured kinds (validated, retried per ``retry``); ``samplings``
        gives a kind its own sampling (e.g. a longer answer for events; the backend's otherwise)."""
        super().__init__(make_backend, resources)
        self.json_schemas = dict(json_schemas)
        self.structurers = dict(structurers or {})
        self.retry = retry
        self.samplings = dict(samplings or {})

    def _generate(self, requests: list[GenerationRequest], sampling: SamplingConfig) -> list[GenerationResult]:
        backend: Backend = self.ready()
        results = backend.generate(requests, sampling) if requests else []
        if len(results) != len(requests):
            msg = f"generate: backend '{backend.name}' returned {len(results)} results for {len(requests)} requests"
            raise RuntimeError(msg)
        return results

    def process_batch(self, batch: Batch) -> Batch:
        backend: Backend = self.ready()
        n = len(batch["key"])
        cols: dict[str, list] = {
            "text": [""] * n,
            "text_sha256": [""] * n,
            "raw": [""] * n,
            "n_prompt_tokens": [0] * n,
            "n_output_tokens": [0] * n,
            "latency_ms": [0.0] * n,
            "model_called": [False] * n,
            "items": [""] * n,
            "n_items": [0] * n,
            "n_clipped": [0] * n,
            "n_dropped": [0] * n,
            "n_merged": [0] * n,
            "n_retries": [0] * n,
            "invalid": ["{}"] * n,
            "sampling_used": [""] * n,
            "status": list(batch["status"]),
            "error_type": list(batch["error_type"]),
            "error": list(batch["error"]),
        }
        todo = [i for i in range(n) if cols["status"][i] == "ok"]
        requests = {
            i: GenerationRequest(
                key=str(batch["key"][i]),
                prompt=str(batch["prompt"][i]),
                images=list(batch["images"][i]),
                json_schema=self.json_schemas.get(str(batch["kind"][i])),
                prompt_id=str(batch["prompt_id"][i]),
                variables=json.loads(str(batch["prompt_vars"][i])),
            )
            for i in todo
        }
        by_sampling: dict[SamplingConfig, list[int]] = {}  # one batched call per kind's sampling
        for i in todo:
            by_sampling.setdefault(self.samplings.get(str(batch["kind"][i]), backend.sampling), []).append(i)
        for sampling, rows in by_sampling.items():
            self._ask(batch, cols, rows, requests, sampling)
        return {**batch, **cols}

    def _ask(
        self,
        batch: Batch,
        cols: dict[str, list],
        rows: list[int],
        requests: dict[int, GenerationRequest],
        sampling: SamplingConfig,
    ) -> None:
        """Ask once with ``sampling``, then re-ask the invalid answers with the retry sampling."""
        pending = self._answer(batch, cols, rows, requests, sampling, attempt=0)
        for attempt in range(1, self.retry.retries + 1):
            if not pending:
                return
            pending = self._answer(batch, cols, pending, requests, self.retry.sampling(sampling, attempt), attempt)

    def _answer(
        self,
        batch: Batch,
        cols: dict[str, list],
        rows: list[int],
        requests: dict[int, GenerationRequest],
        sampling: SamplingConfig,
        attempt: int,
    ) -> list[int]:
        """Generate for ``rows``, fill their columns; returns the rows whose answer is invalid and
        may be asked again."""
        again = []
        for i, res in zip(rows, self._generate([requests[i] for i in rows], sampling), strict=True):
            cols["model_called"][i] = True
            cols["n_retries"][i] = attempt
            cols["n_prompt_tokens"][i] += res.n_prompt_tokens
            cols["n_output_tokens"][i] += res.n_output_tokens
            cols["latency_ms"][i] += res.latency_ms
            if attempt:
                cols["sampling_used"][i] = canonical_json(sampling.model_dump())
            structurer = self.structurers.get(str(batch["kind"][i]))
            if res.status != "ok":
                self._fail(cols, i, res.key, res.text, res.error_type or "generation_error", res.error)
            elif structurer is None:
                cols["text"][i], cols["text_sha256"][i] = res.text, sha256_text(res.text)
                cols["status"][i] = "ok"
            else:
                outcome = structurer(res.text, float(batch["t_start"][i]), float(batch["t_end"][i]))
                self._structured(cols, i, res, outcome, str(batch["video_id"][i]))
                if outcome.status != "ok" and attempt < self.retry.retries:
                    again.append(i)
        return again

    @staticmethod
    def _fail(cols: dict[str, list], i: int, key: str, raw: str, error_type: str, error: str) -> None:
        cols["raw"][i], cols["text"][i], cols["text_sha256"][i] = raw, "", ""
        cols["status"][i], cols["error_type"][i] = "error", error_type
        cols["error"][i] = f"generate: key {key}: {error}"

    def _structured(self, cols: dict[str, list], i: int, res: GenerationResult, outcome: Outcome, video: str) -> None:
        invalid = Counter(json.loads(cols["invalid"][i]))
        cols["n_clipped"][i], cols["n_dropped"][i] = outcome.n_clipped, outcome.n_dropped
        cols["n_merged"][i] = outcome.n_merged
        if outcome.status == "ok":
            cols["raw"][i], cols["items"][i], cols["n_items"][i] = res.text, outcome.items_json(), len(outcome.items)
            cols["status"][i], cols["error_type"][i], cols["error"][i] = "ok", "", ""
            return
        invalid[outcome.error_type] += 1
        cols["invalid"][i] = json.dumps(dict(invalid), sort_keys=True)
        tries = f" (after {cols['n_retries'][i]} retries)" if cols["n_retries"][i] else ""
        self._fail(cols, i, res.key, res.text, outcome.error_type, f"video '{video}': {outcome.error}{tries}")
