"""``temporal_reasoning``: per (video, query), the MLLM's temporal reasoning about the sentence
(Bridge-STG's "temporal reasoning context", distilled offline): a JSON object ``{start, end,
target, reasoning}`` -- when the described thing happens, a noun phrase for its target, and a
short reasoning text -- expanded into two items in ``ITEMS`` order, both with the answer's span
as their times. So a manifest row's ``temporal_reasoning_keys`` is either empty (the request
failed) or ``[reasoning, target]``: a consumer takes each by position and the span from either.

The span must be finite with ``start < end`` (else ``bad_span``: the answer is retried like an
invalid event list); a span sticking out of ``[0, duration]`` is clipped and counted
(``n_clipped``), and one left with zero length is a ``bad_span`` too (one answer, one span: there
is nothing else to keep)."""

from __future__ import annotations

import math

from pipeline.kinds.base import PLANNERS, PlannedRequest, Planner, VideoInput, frames_in_window
from pipeline.kinds.structured import Item, Outcome, Template, parse_json

ITEMS = ("reasoning", "target")


def parse_reasoning(template: Template, text: str, t_start: float, t_end: float) -> Outcome:
    """One answer of a whole-video request spanning ``[t_start, t_end]`` = ``[0, duration]``."""
    value, failed = parse_json(template, text)
    if failed:
        return failed
    start, end = float(value["start"]), float(value["end"])
    if not (math.isfinite(start) and math.isfinite(end)) or start >= end:
        msg = f"bad_span: the answer to prompt '{template.id}' has start={start}, end={end} (need finite start < end)"
        return Outcome("error", error_type="bad_span", error=msg)
    clipped = (max(float(t_start), start), min(float(t_end), end))
    if clipped[1] <= clipped[0]:
        msg = f"bad_span: the answer's span [{start}, {end}] lies outside the video [{t_start}, {t_end}]"
        return Outcome("error", error_type="bad_span", error=msg)
    out = Outcome("ok", [Item(clipped[0], clipped[1], str(value[k]).strip() or str(value[k])) for k in ITEMS])
    out.n_clipped = int(clipped != (start, end))
    return out


@PLANNERS.register("temporal_reasoning")
class TemporalReasoningPlanner(Planner):
    """One request per query: the template's ``n_images`` frames spread over the whole video, their
    times and the query in the prompt. The request spans ``[0, duration]``."""

    kind = "temporal_reasoning"
    prompt = "reason_when_what"
    parser = staticmethod(parse_reasoning)

    def plan(self, video: VideoInput) -> list[PlannedRequest]:
        if video.duration <= 0:
            return []
        frames = frames_in_window(0.0, video.duration, self.settings.n_images)
        return [
            self.request(video, t_start=0.0, t_end=video.duration, frame_times=frames, query=q) for q in video.queries
        ]
