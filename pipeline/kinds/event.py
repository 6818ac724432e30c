"""``event``: the events of a whole video as a JSON list of ``{start, end, description}``
(MASRA's event semantics aligned with spans).

Spans must be finite with ``start < end`` (else ``bad_span``); spans sticking out of
``[0, duration]`` are clipped to the video and counted, and a span left with zero length is
dropped and counted. One item per kept event, in the model's order."""

from __future__ import annotations

import math

from pipeline.kinds.base import PLANNERS, PlannedRequest, Planner, VideoInput, frames_in_window
from pipeline.kinds.structured import Item, Outcome, Template, parse_json


def parse_events(template: Template, text: str, t_start: float, t_end: float) -> Outcome:
    """Events of a whole-video request: the request spans [0, duration] (``t_start``, ``t_end``)."""
    value, failed = parse_json(template, text)
    if failed:
        return failed
    duration = float(t_end)
    out = Outcome("ok")
    for i, event in enumerate(value):
        start, end = float(event["start"]), float(event["end"])
        if not (math.isfinite(start) and math.isfinite(end)) or start >= end:
            msg = f"bad_span: event {i} of prompt '{template.id}' has start={start}, end={end} (need finite start < end)"
            return Outcome("error", error_type="bad_span", error=msg)
        clipped = (max(0.0, start), min(duration, end))
        if clipped != (start, end):
            out.n_clipped += 1
        if clipped[1] <= clipped[0]:
            out.n_dropped += 1
            continue
        out.items.append(Item(clipped[0], clipped[1], event["description"]))
    return out


@PLANNERS.register("event")
class EventPlanner(Planner):
    """One request per video: ``n_images`` frames spread over the whole video, their times in
    the prompt; the answer (a JSON list of events) is expanded into one row per event. The
    request spans [0, duration]: events are clipped to it."""

    kind = "event"
    prompt = "describe_events"
    parser = staticmethod(parse_events)

    def plan(self, video: VideoInput) -> list[PlannedRequest]:
        if video.duration <= 0:
            return []
        frames = frames_in_window(0.0, video.duration, self.settings.n_images)
        return [self.request(video, t_start=0.0, t_end=video.duration, frame_times=frames)]
