"""``render``: fill each request's versioned prompt template with the variables it declares,
taken from the planner's superset (time, window, frame times, duration, query). A template that
fails on one row makes that row an error, not the run."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any, ClassVar, Protocol

from pipeline.stages.base import Batch, Resources, Stage


class Template(Protocol):  # pipeline.prompts.PromptTemplate
    id: str
    version: int
    variables: dict[str, Any]  # the names the template declares

    def render(self, **variables: Any) -> str: ...


class RenderStage(Stage):
    name: ClassVar[str] = "render"
    reads: ClassVar[tuple[str, ...]] = ("key", "kind", "prompt_vars", "status", "error_type", "error")
    writes: ClassVar[tuple[str, ...]] = ("prompt", "prompt_id", "status", "error_type", "error")

    def __init__(
        self, templates: Mapping[str, Template], resources: Resources = Resources(cpus=0.25, batch_size=64)
    ) -> None:
        self.templates = dict(templates)
        self.resources = resources

    def process_batch(self, batch: Batch) -> Batch:
        n = len(batch["key"])
        prompt, status = [""] * n, list(batch["status"])
        prompt_id = [self.templates[str(k)].id for k in batch["kind"]]
        etype, emsg = list(batch["error_type"]), list(batch["error"])
        for i in range(n):
            if status[i] != "ok":
                continue
            template = self.templates[str(batch["kind"][i])]
            try:
                given = json.loads(batch["prompt_vars"][i])
                prompt[i] = template.render(**{k: given[k] for k in template.variables if k in given})
            except Exception as e:  # noqa: BLE001 - recorded on the row
                status[i], etype[i] = "error", "render_error"
                emsg[i] = f"render: prompt '{template.id}' v{template.version} for key {batch['key'][i]}: {e}"
        return {**batch, "prompt": prompt, "prompt_id": prompt_id, "status": status, "error_type": etype, "error": emsg}
