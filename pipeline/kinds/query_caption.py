"""``query_caption``: a caption per (query, segment) with the query in the prompt (GranAlign's
query-aware captions)."""

from __future__ import annotations

from pipeline.kinds.base import PLANNERS, PlannedRequest, Planner, VideoInput, windows


@PLANNERS.register("query_caption")
class QueryCaptionPlanner(Planner):
    """One caption per (query, ``segment_len`` segment): queries x segments requests, so keep
    ``segment_len`` coarse."""

    kind = "query_caption"
    prompt = "caption_for_query"

    def plan(self, video: VideoInput) -> list[PlannedRequest]:
        return [
            self.request(video, t_start=start, t_end=end, frame_times=frames, query=q)
            for start, end, frames in windows(video.duration, self.settings.segment_len, self.settings.n_images)
            for q in video.queries
        ]
