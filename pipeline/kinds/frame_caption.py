"""``frame_caption``: GranAlign's query-agnostic captions (Step B) as a kind of their own: one
frame every ``interval`` seconds, captioned without any query by ``prompts/caption_frame`` (what is
happening in the frame, ../shared/methods/granalign.md #2). The default source of the agnostic
captions is the ``narrative`` kind (TEA's per-frame narratives); this kind is the separate prompt,
chosen by config (``PlanSettings.key_frame_source`` for the key frames,
``GranAlignConfig.agnostic = "frame_captions"`` for the scorer), and leaves the narratives other
methods read as they are."""

from __future__ import annotations

from pipeline.kinds.base import PLANNERS, PlannedRequest, Planner, VideoInput, time_grid


@PLANNERS.register("frame_caption")
class FrameCaptionPlanner(Planner):
    """One frame every ``interval`` seconds, as ``narrative``."""

    kind = "frame_caption"
    prompt = "caption_frame"

    def plan(self, video: VideoInput) -> list[PlannedRequest]:
        return [
            self.request(video, t_start=t, t_end=t, frame_times=[t], timestamp=t)
            for t in time_grid(video.duration, self.settings.interval)
        ]
