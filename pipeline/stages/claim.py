"""``decode`` under work claims: before a video is decoded, the run claims each of its units (one
prior kind on one video, ``groundwork.cache.claims``) in the shared cache; the requests of a unit
another run holds are left out here, and the driver waits for that run's rows
(``pipeline.generation``). Claiming at decode time, not when the run starts, means a run holds
only the units in its pipeline, so two runs started together share the overlap between them."""

from __future__ import annotations

import json
from typing import ClassVar

from groundwork.cache.claims import ClaimBook
from pipeline.stages.base import Batch, Resources
from pipeline.stages.decode import DecodeStage, Sampler


class ClaimingDecodeStage(DecodeStage):
    """``DecodeStage`` for the requests whose unit this run holds. A request carries its unit's
    claim id in ``claim`` (set by the driver); "" means no claim is needed (the driver gave up
    waiting, or took the unit itself)."""

    name: ClassVar[str] = "decode"

    def __init__(
        self, sampler: Sampler, claims: ClaimBook, resources: Resources = Resources(cpus=1.0, batch_size=1)
    ) -> None:
        super().__init__(sampler, resources)
        self.claims = claims

    def process_batch(self, batch: Batch) -> Batch:
        kept = []
        for i, vid in enumerate(batch["video_id"]):
            requests = json.loads(batch["requests"][i])
            units = {(r["kind"], r.get("claim", "")) for r in requests}
            ours = {u for u in units if not u[1] or self.claims.claim(u[0], u[1], str(vid))}
            kept.append(json.dumps([r for r in requests if (r["kind"], r.get("claim", "")) in ours]))
        return super().process_batch({**batch, "requests": kept})
