"""Test doubles of generation backends that the real graph can load by name inside a Ray actor.

This module does not register anything: a test module registers the class in
``pipeline.backends.base.BACKENDS`` under a clearly fake name. The graph looks the class up on
the driver and ships it to the generate actor by reference (cloudpickle pickles a class by its
module and name), so the actor imports ``tests.pipeline.fake_backends`` itself: that works
because ``ray.init`` (``pipeline.ray_adapter.init_ray``, no ``runtime_env``) adds the driver's
current directory to its workers' ``sys.path`` (``ray/_private/worker.py``), and the tests run
from the repository root. No pipeline code knows about this module."""

from __future__ import annotations

import json
import re
from typing import Any

from pipeline.backends.base import Backend, GenerationRequest, GenerationResult, SamplingConfig

DURATION = re.compile(r"lasts (\d+(?:\.\d+)?) seconds")
QUOTED = re.compile(r'^"(.*)"$', re.MULTILINE)


def scripted_events(duration: float, first_attempt: bool) -> list[dict[str, Any]]:
    """Two events for a video of ``duration`` s, the second sticking out past the end (to be
    clipped); the first attempt adds a third with start == end (``bad_span``: asked again)."""
    events = [
        {"start": 0.0, "end": duration / 2, "description": f"a shape appears in a {duration:.0f} s video"},
        {"start": duration / 2, "end": duration + 5.0, "description": f"it moves until {duration:.0f} s"},
    ]
    if first_attempt:
        events.append({"start": 3.0, "end": 3.0, "description": "an event with no length"})
    return events


def scripted_rewrites(query: str) -> dict[str, str]:
    return {"coarse": f"coarse: {query}", "original": query, "fine": f"fine: {query}"}


class FakeScriptedJSONBackend(Backend):
    """Fake: stands in for a model that emits valid JSON, which random-weight tiny models cannot;
    the real path for valid JSON is vLLM guided decoding (tests/pipeline/backends/test_vllm_backend.py).

    Tells requests apart by ``request.json_schema`` (describe_events asks for an array,
    rewrite_query for an object) and reads the duration / the query back from the rendered prompt.
    Events: see ``scripted_events``; the first ask of each prompt (per worker) has a bad span.
    Rewrites: ``scripted_rewrites``. Any other request gets a plain caption."""

    name = "fake-scripted-json"

    def __init__(self, model: str, sampling: SamplingConfig, **options: Any) -> None:
        super().__init__(model, sampling, **options)
        self.asked: dict[str, int] = {}  # prompt -> times asked in this worker

    def run(
        self, requests: list[GenerationRequest], prepared: list[Any], sampling: SamplingConfig
    ) -> list[GenerationResult]:
        return [
            GenerationResult(r.key, self._answer(r), n_prompt_tokens=len(r.prompt.split()), n_output_tokens=1)
            for r in requests
        ]

    def _answer(self, request: GenerationRequest) -> str:
        first = request.prompt not in self.asked
        self.asked[request.prompt] = self.asked.get(request.prompt, 0) + 1
        schema_type = (request.json_schema or {}).get("type")
        if schema_type == "array":
            duration = float(_match(DURATION, request.prompt, "duration"))
            return json.dumps(scripted_events(duration, first))
        if schema_type == "object":
            return json.dumps(scripted_rewrites(_match(QUOTED, request.prompt, "quoted query")))
        return "a plain caption"


def _match(pattern: re.Pattern[str], prompt: str, what: str) -> str:
    found = pattern.search(prompt)
    if found is None:
        msg = f"FakeScriptedJSONBackend: no {what} in the prompt: {prompt[:200]!r}"
        raise ValueError(msg)
    return found.group(1)
