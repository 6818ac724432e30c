"""The Ray adapter names Ray's operators after the stages they run."""

from __future__ import annotations

import inspect

from pipeline.ray_adapter import stage_udf
from pipeline.stages.base import Stage
from tests.pipeline.stages.test_declared_columns import FakeEchoBackend, FakeTextEncoder  # noqa: F401


def test_operators_carry_the_stage_name() -> None:
    from pipeline.backends.base import SamplingConfig
    from pipeline.stages.embed import EmbedStage
    from pipeline.stages.generate import GenerateStage
    from pipeline.stages.render import RenderStage

    actor = stage_udf(GenerateStage(lambda: FakeEchoBackend("m", SamplingConfig()), {}))
    assert inspect.isclass(actor) and actor.__name__ == "GenerateStage"
    assert stage_udf(EmbedStage(FakeTextEncoder)).__name__ == "EmbedStage"
    task = stage_udf(RenderStage({}))
    assert inspect.isfunction(task) and task.__name__ == "RenderStage"


def test_a_task_udf_runs_the_stage() -> None:
    class Upper(Stage):
        name = "upper"
        reads = ("text",)
        writes = ("text",)

        def process_batch(self, batch: dict) -> dict:
            return {"text": [t.upper() for t in batch["text"]]}

    out = stage_udf(Upper())({"text": ["a", "b"]})
    assert out["text"] == ["A", "B"] and out["_s_upper"] and len(out["_s_upper"]) == 2
