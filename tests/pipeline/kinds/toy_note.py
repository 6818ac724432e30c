"""A test-only prior kind, ``toy_note``: one note per video from its middle frame. It is the
whole of what a new prior kind takes (``pipeline/kinds/base.py``): this planner, registered by
importing this module, and a prompt file (``tests/pipeline/kinds/prompts/toy_note.yaml``, found
through ``PriorsConfig.prompts_dir``). Plain text, so no parser. ``test_new_prior_kind.py``
carries it from the planner through the real graph into the manifest and into a batch field."""

from __future__ import annotations

from pathlib import Path

from pipeline.kinds import PLANNERS
from pipeline.kinds.base import PlannedRequest, Planner, VideoInput

KIND = "toy_note"
PROMPTS = Path(__file__).resolve().parent / "prompts"


class ToyNotePlanner(Planner):
    kind = KIND
    prompt = "toy_note"

    def plan(self, video: VideoInput) -> list[PlannedRequest]:
        middle = round(video.duration / 2, 6)
        return [self.request(video, t_start=0.0, t_end=video.duration, frame_times=[middle])]


if KIND not in PLANNERS:
    PLANNERS.register(KIND)(ToyNotePlanner)
