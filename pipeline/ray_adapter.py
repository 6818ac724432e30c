"""The only module that imports Ray. It turns any ``Stage`` into ``Dataset.map_batches``:
a plain task for stateless stages, an actor pool (``setup()`` once per actor, ``num_gpus`` from
the stage's resources) for stateful ones. Light stages ask for fractional CPUs, so the whole
graph runs on a 2-core machine without waiting on resources.

Each stage's wall time is carried on the rows it emits (``_s_<stage>``: the batch's seconds
spread over its output rows), so the run report can sum it per stage."""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import ray
import ray.data
from ray.data import ActorPoolStrategy

from groundwork.errors import InputError
from pipeline.stages.base import Batch, Stage


def init_ray(
    address: str | None = None, num_cpus: int | None = None, runtime_env: dict[str, Any] | None = None
) -> None:
    """Connect to ``address`` (a cluster) with the job's ``runtime_env`` (``pipeline.cluster``:
    the shipped project), else start a quiet local instance."""
    if ray.is_initialized():
        return
    quiet = {
        "include_dashboard": False,
        "log_to_driver": False,
        "logging_level": logging.WARNING,
        "configure_logging": True,
    }
    if address:
        ray.init(
            address=address, runtime_env=runtime_env, **{k: v for k, v in quiet.items() if k != "include_dashboard"}
        )
    else:
        ray.init(num_cpus=num_cpus or os.cpu_count() or 2, **quiet)


def _timed(stage: Stage, batch: Batch) -> Batch:
    start = time.perf_counter()
    out = stage.process_batch(batch)
    seconds = time.perf_counter() - start
    n = len(next(iter(out.values()))) if out else 0
    if n:
        out[f"_s_{stage.name}"] = [seconds / n] * n
    return out


class _StageActor:
    """One worker of a stateful stage: ``setup()`` once, then batches."""

    def __init__(self, stage: Stage) -> None:
        self.stage = stage
        stage.setup()

    def __call__(self, batch: Batch) -> Batch:
        return _timed(self.stage, batch)


def stage_udf(stage: Stage) -> Callable[..., Batch] | type:
    """What ``map_batches`` runs for ``stage``, named after the stage's class, so that Ray's
    progress bars, dashboard and logs say ``MapBatches(GenerateStage)``: an actor class for a
    stateful stage, a task function otherwise."""
    name = type(stage).__name__
    if stage.stateful:
        return type(name, (_StageActor,), {"__doc__": f"Ray actor running {name} (setup once, then batches)."})

    def task(batch: Batch) -> Batch:
        return _timed(stage, batch)

    task.__name__ = task.__qualname__ = name
    return task


def apply_stage(ds: ray.data.Dataset, stage: Stage) -> ray.data.Dataset:
    r = stage.resources
    common: dict[str, Any] = {"batch_size": r.batch_size, "batch_format": "numpy", "num_cpus": r.cpus}
    if r.gpus:
        common["num_gpus"] = r.gpus
    udf = stage_udf(stage)
    if stage.stateful:
        return ds.map_batches(
            udf, fn_constructor_kwargs={"stage": stage}, compute=ActorPoolStrategy(size=r.concurrency), **common
        )
    return ds.map_batches(udf, **common)


def cpus_needed(stages: Sequence[Stage]) -> float:
    """The CPUs a graph needs at once to make progress: every actor of every stateful stage holds
    its CPUs for the whole pass, and a task of the hungriest stateless stage must still fit."""
    actors = sum(s.resources.cpus * s.resources.concurrency for s in stages if s.stateful)
    tasks = max((s.resources.cpus for s in stages if not s.stateful), default=0.0)
    return actors + tasks


def check_cpus(stages: Sequence[Stage], available: float) -> None:
    """Refuse a graph whose actors and one task need more CPUs than ``available``: Ray Data would
    start what fits and wait forever for the rest. The message lists what each stage holds."""
    need = cpus_needed(stages)
    if need <= available + 1e-9:
        return
    held = ", ".join(
        f"{type(s).__name__} {s.resources.concurrency} x {s.resources.cpus:g}" for s in stages if s.stateful
    )
    msg = (
        f"this graph needs {need:g} CPUs at once but the Ray instance has {available:g} (actors: {held}; "
        "plus one task of the light stages): lower --generate-concurrency or --embed-concurrency, or give "
        "--num-cpus / a cluster with more CPUs; otherwise Ray Data would wait forever"
    )
    raise InputError(msg)


def run_stages(
    rows: list[dict[str, Any]], stages: Sequence[Stage], progress: bool = True, strict_cpus: bool = True
) -> Iterator[Batch]:
    """Stream ``rows`` through ``stages`` and yield the last stage's output batches.
    ``strict_cpus``: refuse a graph that needs more CPUs than the instance has (``check_cpus``);
    off for a cluster, where an autoscaler may add nodes once the work asks for them."""
    if strict_cpus:
        check_cpus(stages, float(ray.cluster_resources().get("CPU", 0.0)))
    ctx = ray.data.DataContext.get_current()
    ctx.enable_progress_bars = progress
    ctx.print_on_execution_start = False
    ctx.enable_auto_log_stats = False
    ds = ray.data.from_items(rows, override_num_blocks=max(1, min(len(rows), 64)))
    for stage in stages:
        ds = apply_stage(ds, stage)
    yield from ds.iter_batches(batch_size=None, batch_format="numpy")
