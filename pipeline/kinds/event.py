"""``event``: the events of a whole video as a JSON list of ``{start, end, description}``
(MASRA's event semantics aligned with spans).

Spans must be finite with ``start < end`` (else ``bad_span``); spans sticking out of
``[0, duration]`` are clipped to the video and counted, and a span left with zero length is
dropped and counted. Exact duplicates are merged and counted: an event whose description is the
same text (surrounding whitespace aside) as an earlier one's and whose span overlaps or touches
it becomes part of that event (the union of the two spans); the same description at a disjoint
time is a repeated action and stays a second event. One item per kept event, in the model's
order (a merged event keeps its first position)."""

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
            msg = (
                f"bad_span: event {i} of prompt '{template.id}' has start={start}, end={end} (need finite start < end)"
            )
            return Outcome("error", error_type="bad_span", error=msg)
        clipped = (max(0.0, start), min(duration, end))
        if clipped != (start, end):
            out.n_clipped += 1
        if clipped[1] <= clipped[0]:
            out.n_dropped += 1
            continue
        out.items.append(Item(clipped[0], clipped[1], event["description"]))
    return merge_duplicates(out)


def _duplicates(a: Item, b: Item) -> bool:
    """Same text (surrounding whitespace aside) and spans that overlap or touch."""
    return a.text.strip() == b.text.strip() and a.t_start <= b.t_end and b.t_start <= a.t_end


def _find_duplicate(items: list[Item], item: Item, skip: int | None) -> int | None:
    return next((j for j, kept in enumerate(items) if j != skip and _duplicates(kept, item)), None)


def merge_duplicates(out: Outcome) -> Outcome:
    """Merge exact-duplicate items into the union of their spans, one ``n_merged`` per merge; a
    grown span is checked again against the others. A merged event keeps its first position."""
    items: list[Item] = []
    for item in out.items:
        pos: int | None = None  # where this item's (grown) event sits in ``items``
        current = item
        while (j := _find_duplicate(items, current, pos)) is not None:
            current = Item(min(items[j].t_start, current.t_start), max(items[j].t_end, current.t_end), items[j].text)
            out.n_merged += 1
            if pos is not None:
                del items[max(pos, j)]
            pos = j if pos is None else min(pos, j)
            items[pos] = current
        if pos is None:
            items.append(item)
    out.items = items
    return out


@PLANNERS.register("event")
class EventPlanner(Planner):
    """One request per video: frames spread over the whole video, their times in the prompt, as
    many as ``PlanSettings.event_frames`` gives for its duration (the template's ``n_images`` up
    to ``event_max_frames``, one per ``event_seconds_per_frame`` seconds: a video of up to 32 s
    keeps the template's 8 frames and its cache keys); the answer (a JSON list of events) is
    expanded into one row per event. The request spans [0, duration]: events are clipped to it."""

    kind = "event"
    version = 2  # 2: the frame count scales with the video's duration
    prompt = "describe_events"
    parser = staticmethod(parse_events)

    def plan(self, video: VideoInput) -> list[PlannedRequest]:
        if video.duration <= 0:
            return []
        frames = frames_in_window(0.0, video.duration, self.settings.event_frames(video.duration))
        return [self.request(video, t_start=0.0, t_end=video.duration, frame_times=frames)]
