"""The Ray adapter names Ray's operators after the stages they run."""

from __future__ import annotations

import inspect

import pytest

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


def _generation_graph(generate_actors: int, embed_actors: int) -> list[Stage]:
    """The stages of a generation pass, with the resources ``pipeline.graph`` gives them."""
    from pipeline.backends.base import SamplingConfig
    from pipeline.stages.base import Resources
    from pipeline.stages.decode import DecodeStage
    from pipeline.stages.embed import EmbedStage
    from pipeline.stages.generate import GenerateStage
    from pipeline.stages.render import RenderStage
    from pipeline.stages.write import SlimStage

    return [
        DecodeStage(None, Resources(cpus=0.5, batch_size=1)),  # type: ignore[arg-type]
        RenderStage({}),
        GenerateStage(
            lambda: FakeEchoBackend("m", SamplingConfig()), {}, Resources(cpus=1.0, concurrency=generate_actors)
        ),
        EmbedStage(FakeTextEncoder, resources=Resources(cpus=0.5 / embed_actors, concurrency=embed_actors)),
        SlimStage(),
    ]


def test_cpus_needed_counts_every_actor_and_the_largest_task() -> None:
    from pipeline.ray_adapter import cpus_needed

    # 1 generate actor + 2 embed actors of 0.25 + one decode task of 0.5: the demo's graph on 2 cores
    assert cpus_needed(_generation_graph(1, 2)) == pytest.approx(2.0)
    assert cpus_needed(_generation_graph(3, 1)) == pytest.approx(4.0)


def test_a_graph_that_would_wait_forever_is_refused_with_the_flags_to_change() -> None:
    from groundwork.errors import InputError
    from pipeline.ray_adapter import check_cpus

    check_cpus(_generation_graph(1, 2), 2.0)  # fits exactly: runs
    with pytest.raises(InputError) as err:
        check_cpus(_generation_graph(2, 1), 2.0)
    message = str(err.value)
    assert "needs 3 CPUs" in message and "has 2" in message
    assert "GenerateStage 2 x 1" in message and "--generate-concurrency" in message
