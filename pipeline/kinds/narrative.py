"""``narrative``: one frame every ``interval`` seconds, narrated (TEA's narratives, Eq. 1)."""

from __future__ import annotations

from pipeline.kinds.base import PLANNERS, PlannedRequest, Planner, VideoInput, time_grid


@PLANNERS.register("narrative")
class NarrativePlanner(Planner):
    """One frame every ``interval`` seconds."""

    kind = "narrative"
    prompt = "narrate_frame"

    def plan(self, video: VideoInput) -> list[PlannedRequest]:
        return [
            self.request(video, t_start=t, t_end=t, frame_times=[t], timestamp=t)
            for t in time_grid(video.duration, self.settings.interval)
        ]
