"""Planners: one small object per prior kind that expands a video (and its queries) into the
generation requests of that kind. Adding a prior kind is one planner class registered here
(plus, for a JSON answer, a parser in ``pipeline.structured``); the rest of the graph is generic.
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from dataclasses import asdict, dataclass, field
from typing import Any, ClassVar

from pipeline.hashing import cache_key
from pipeline.keys import KEY_VERSION, GenerationIdentity, KeyMaker
from pipeline.registry import Registry


@dataclass(frozen=True)
class QueryInput:
    query_id: str
    text: str
    text_sha256: str


@dataclass(frozen=True)
class VideoInput:
    video_id: str
    path: str  # "" when the adapter found no file
    duration: float
    video_sha256: str  # "" when missing
    queries: tuple[QueryInput, ...] = ()


@dataclass
class PlannedRequest:
    kind: str
    key: str
    query_id: str
    t_start: float
    t_end: float
    frame_times: list[float]
    prompt_vars: dict[str, Any] = field(default_factory=dict)  # a superset; render keeps the template's

    def as_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "key": self.key, "query_id": self.query_id, "t_start": self.t_start,
                "t_end": self.t_end, "frame_times": self.frame_times, "prompt_vars": self.prompt_vars}


@dataclass(frozen=True)
class PlanSettings:
    interval: float = 1.0  # narrative spacing, seconds
    clip_len: float = 2.0  # clip-caption window, seconds
    n_images: int = 1  # frames the prompt template takes
    segment_len: float = 4.0  # query-aware caption segment, seconds (requests = queries x segments)


def time_grid(duration: float, step: float) -> list[float]:
    """0, step, 2*step, ... while t < duration (the FrameSampler's rule)."""
    n = max(0, math.ceil(round(duration / step, 9)))
    return [round(i * step, 6) for i in range(n)]


def frames_in_window(start: float, end: float, n: int) -> list[float]:
    """n frame times spread evenly inside [start, end): the middle one when n == 1."""
    width = (end - start) / n
    return [round(start + width * (i + 0.5), 6) for i in range(n)]


def windows(duration: float, length: float, n_images: int) -> list[tuple[float, float, list[float]]]:
    """(start, end, frame times) of consecutive ``length``-second windows covering the video,
    the last one cut at ``duration``, with ``n_images`` frames spread inside each."""
    out = []
    for start in time_grid(duration, length):
        end = round(min(start + length, duration), 6)
        out.append((start, end, frames_in_window(start, end, n_images)))
    return out


class Planner(ABC):
    kind: ClassVar[str]
    version: ClassVar[int] = 1  # bump when a planner's expansion rule changes (invalidates the plan index)

    def __init__(self, ident: GenerationIdentity, settings: PlanSettings) -> None:
        self.ident = ident
        self.settings = settings
        self.key = KeyMaker(self.kind, ident)

    def request(self, video: VideoInput, *, t_start: float, t_end: float, frame_times: list[float],
                query: QueryInput | None = None, **prompt_vars: Any) -> PlannedRequest:
        key = self.key(video_sha256=video.video_sha256, video_id=video.video_id, t_start=t_start, t_end=t_end,
                       frame_times=frame_times, query_sha256=query.text_sha256 if query else "")
        variables = {"video_id": video.video_id, "duration": round(video.duration, 3), "t": t_start,
                     "start": t_start, "end": t_end, "clip_start": t_start, "clip_end": t_end,
                     "timestamps": frame_times, **prompt_vars}
        if query is not None:
            variables["query"] = query.text
        return PlannedRequest(self.kind, key, query.query_id if query else "", t_start, t_end,
                              frame_times, variables)

    def fingerprint(self, video: VideoInput) -> str:
        """Hash of everything ``plan(video)`` depends on: the plan index's key."""
        return cache_key({"planner": self.kind, "planner_version": self.version, "key_version": KEY_VERSION,
                          "identity": asdict(self.ident), "settings": asdict(self.settings), "video": asdict(video)})

    @abstractmethod
    def plan(self, video: VideoInput) -> list[PlannedRequest]:
        """Every request of this kind for the video, cached or not."""


PLANNERS: Registry[type[Planner]] = Registry("prior kind planner")


@PLANNERS.register("narrative")
class NarrativePlanner(Planner):
    """One frame every ``interval`` seconds (TEA's narratives)."""

    kind = "narrative"

    def plan(self, video: VideoInput) -> list[PlannedRequest]:
        return [self.request(video, t_start=t, t_end=t, frame_times=[t], timestamp=t)
                for t in time_grid(video.duration, self.settings.interval)]


@PLANNERS.register("clip_caption")
class ClipCaptionPlanner(Planner):
    """One caption per ``clip_len`` window (QVHighlights' 2 s clips), from the window's middle
    frame or ``n_images`` frames spread through it."""

    kind = "clip_caption"

    def plan(self, video: VideoInput) -> list[PlannedRequest]:
        return [self.request(video, t_start=start, t_end=end, frame_times=frames)
                for start, end, frames in windows(video.duration, self.settings.clip_len, self.settings.n_images)]


@PLANNERS.register("event")
class EventPlanner(Planner):
    """One request per video: ``n_images`` frames spread over the whole video, their times in
    the prompt; the answer (a JSON list of events) is expanded into one row per event
    (``pipeline.structured``). The request spans [0, duration]: events are clipped to it."""

    kind = "event"

    def plan(self, video: VideoInput) -> list[PlannedRequest]:
        if video.duration <= 0:
            return []
        frames = frames_in_window(0.0, video.duration, self.settings.n_images)
        return [self.request(video, t_start=0.0, t_end=video.duration, frame_times=frames)]


@PLANNERS.register("query_rewrite")
class QueryRewritePlanner(Planner):
    """Text-only: one request per query (no frames, so decode opens no video); the JSON answer
    becomes three rows, coarse / original / fine."""

    kind = "query_rewrite"

    def plan(self, video: VideoInput) -> list[PlannedRequest]:
        return [self.request(video, t_start=0.0, t_end=0.0, frame_times=[], query=q) for q in video.queries]


@PLANNERS.register("query_caption")
class QueryCaptionPlanner(Planner):
    """One caption per (query, ``segment_len`` segment) with the query in the prompt
    (GranAlign): queries x segments requests, so keep ``segment_len`` coarse."""

    kind = "query_caption"

    def plan(self, video: VideoInput) -> list[PlannedRequest]:
        return [self.request(video, t_start=start, t_end=end, frame_times=frames, query=q)
                for start, end, frames in windows(video.duration, self.settings.segment_len, self.settings.n_images)
                for q in video.queries]
