"""``query_rewrite``: a text-only rewrite of each query (GranAlign), a JSON object
``{coarse, original, fine}`` expanded into three items, always in ``GRANULARITIES`` order, so a
manifest row's ``query_rewrite_keys`` is either empty (the request failed) or
``[coarse, original, fine]``: a consumer pairs each granularity with the captions by position."""

from __future__ import annotations

from pipeline.kinds.base import PLANNERS, PlannedRequest, Planner, VideoInput
from pipeline.kinds.structured import Item, Outcome, Template, parse_json

GRANULARITIES = ("coarse", "original", "fine")


def parse_rewrites(template: Template, text: str, t_start: float, t_end: float) -> Outcome:
    value, failed = parse_json(template, text)
    if failed:
        return failed
    return Outcome("ok", [Item(float(t_start), float(t_end), value[g]) for g in GRANULARITIES])


@PLANNERS.register("query_rewrite")
class QueryRewritePlanner(Planner):
    """Text-only: one request per query (no frames, so decode opens no video)."""

    kind = "query_rewrite"
    prompt = "rewrite_query"
    parser = staticmethod(parse_rewrites)

    def plan(self, video: VideoInput) -> list[PlannedRequest]:
        return [self.request(video, t_start=0.0, t_end=0.0, frame_times=[], query=q) for q in video.queries]
