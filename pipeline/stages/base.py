"""A stage is a small typed class with one job. Stages never import Ray: one adapter
(``pipeline.ray_adapter``) turns any stage into ``Dataset.map_batches``, and unit tests run a
stage as plain Python on a dict of columns.

A batch is column-oriented: ``dict[str, list | numpy.ndarray]``, every column the same length.
A stage that fails on one row writes ``status="error"``, ``error_type`` and ``error`` for that
row and carries on; only a dead engine raises.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable
from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict, Field

Batch = dict[str, Any]


class Resources(BaseModel):
    """What one worker of the stage needs. Light stages take fractional CPUs so Ray Data can
    run the whole graph on 2 cores without waiting for resources."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    cpus: float = Field(0.25, gt=0.0)
    gpus: float = Field(0.0, ge=0.0)
    concurrency: int = Field(1, ge=1)  # actors in the pool (stateful stages)
    batch_size: int = Field(16, ge=1)


class Stage(ABC):
    name: ClassVar[str] = "stage"
    reads: ClassVar[tuple[str, ...]] = ()
    writes: ClassVar[tuple[str, ...]] = ()
    stateful: ClassVar[bool] = False  # True: run as an actor pool, setup() once per actor

    resources: Resources = Resources()

    def setup(self) -> None:  # noqa: B027 - optional hook
        """Load heavy things once per worker (models, encoders)."""

    @abstractmethod
    def process_batch(self, batch: Batch) -> Batch:
        """Pure function of the batch: returns the batch with ``writes`` columns set."""

    def __call__(self, batch: Batch) -> Batch:
        return self.process_batch(batch)


class ModelStage(Stage):
    """A stage that holds one heavy object per worker (an encoder, a generation backend): built by
    ``make`` and set up once, in ``setup()`` on a Ray actor, or on the first batch when the stage
    runs as plain Python (``ready()``). The one lazy-setup rule of the pipeline."""

    stateful: ClassVar[bool] = True

    def __init__(self, make: Callable[[], Any], resources: Resources) -> None:
        self.make = make
        self.resources = resources
        self.model: Any = None

    def setup(self) -> None:
        self.model = self.make()
        self.model.setup()

    def ready(self) -> Any:
        """The set-up object, built on first use."""
        if self.model is None:
            self.setup()
        return self.model
