"""``clip_caption``: one caption per ``clip_len`` window (MASRA's clip captions for LRCA)."""

from __future__ import annotations

from pipeline.kinds.base import PLANNERS, PlannedRequest, Planner, VideoInput, windows


@PLANNERS.register("clip_caption")
class ClipCaptionPlanner(Planner):
    """One caption per ``clip_len`` window (QVHighlights' 2 s clips), from the window's middle
    frame or ``n_images`` frames spread through it."""

    kind = "clip_caption"
    prompt = "caption_clip"

    def plan(self, video: VideoInput) -> list[PlannedRequest]:
        return [
            self.request(video, t_start=start, t_end=end, frame_times=frames)
            for start, end, frames in windows(video.duration, self.settings.clip_len, self.settings.n_images)
        ]
