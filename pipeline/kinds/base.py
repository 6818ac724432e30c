"""What a prior kind is: a ``Planner`` that expands a video (and its queries) into generation
requests, registered in ``PLANNERS`` under the kind's name.

Adding a prior kind takes exactly three things, and nothing else in either half changes:

1. a planner class in ``pipeline/kinds/<kind>.py``, registered with ``@PLANNERS.register("<kind>")``
   and imported by ``pipeline/kinds/__init__.py`` (a test may register one from its own module);
   its class variables name the default prompt (``prompt``) and, for a JSON answer, the
   ``parser`` that turns one answer into item rows (``pipeline.kinds.structured``);
2. the prompt file ``prompts/<prompt>.yaml`` (``pipeline.prompts``);
3. for a JSON answer, that parser function.

From the registry the rest is derived: the kinds ``priors run --kinds`` accepts
(``pipeline.kinds.kind_names``), each kind's default prompt (``default_prompts``), which kinds are
structured (``parser_of``), the cache folder ``priors/<kind>/`` and the manifest column
``<kind>_keys`` (``groundwork.cache.layout.manifest_schema``). A grounding model reads a kind
through a batch field whose ``source`` is the kind (``grounding.data.fields``).

A kind may read the outputs of others: its planner names them in ``depends_on`` and reads them
through ``self.context`` (``pipeline.kinds.context.PlanContext``, given by ``bind``); the graph
plans it in a later round, once they are generated and embedded. A ``computed`` kind needs no
model: its planner answers each request itself (``PlannedRequest.answer``; GranAlign's key-frame
selection, ``key_frame``), and its rows are written on the driver (``pipeline.computed``).
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from collections.abc import Collection
from dataclasses import asdict, dataclass, field, replace
from typing import Any, ClassVar

from groundwork.cache.hashing import cache_key
from groundwork.cache.keys import KEY_VERSION, GenerationIdentity, KeyMaker
from groundwork.registry import Registry
from pipeline.frames import time_grid
from pipeline.kinds.structured import Parser


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
    answer: str | None = None  # a computed kind's row text, known at plan time (no model runs)
    detail: str = ""  # a computed kind's row ``raw``: JSON saying how the answer was computed

    def as_dict(self) -> dict[str, Any]:
        out = {
            "kind": self.kind,
            "key": self.key,
            "query_id": self.query_id,
            "t_start": self.t_start,
            "t_end": self.t_end,
            "frame_times": self.frame_times,
            "prompt_vars": self.prompt_vars,
        }
        return out if self.answer is None else {**out, "answer": self.answer, "detail": self.detail}


@dataclass(frozen=True)
class PlanSettings:
    interval: float = 1.0  # narrative spacing, seconds
    clip_len: float = 2.0  # clip-caption window, seconds
    n_images: int = 1  # frames the prompt template takes
    segment_len: float = 4.0  # query-aware caption segment, seconds (requests = queries x segments)
    # event frames scale with the video: ceil(duration / event_seconds_per_frame), at least the
    # template's n_images, at most event_max_frames (0 s per frame: always n_images)
    event_seconds_per_frame: float = 4.0
    event_max_frames: int = 32
    # key frames of a query (GranAlign): the top key_frame_percent % of the video's frames, at
    # least key_frame_min and at most key_frame_max (never more than the video has), among the
    # frames of key_frame_source: the kind holding the query-agnostic captions (narrative, or
    # frame_caption for GranAlign's own caption prompt; auto: frame_caption when the run makes it)
    key_frame_source: str = "auto"
    key_frame_percent: float = 20.0
    key_frame_min: int = 3
    key_frame_max: int = 32

    def event_frames(self, duration: float) -> int:
        """Frames of a whole-video event request: 8 for a 30 s Charades video, 32 (the cap) for a
        150 s QVHighlights or a 5 min TACoS video, with the default settings and template."""
        if self.event_seconds_per_frame <= 0:
            return self.n_images
        wanted = math.ceil(round(duration / self.event_seconds_per_frame, 6))
        return max(self.n_images, min(wanted, self.event_max_frames))


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
    prompt: ClassVar[str]  # id of the default prompt template (prompts/<prompt>.yaml)
    parser: ClassVar[Parser | None] = None  # JSON answers: one answer -> item rows (structured kinds)
    version: ClassVar[int] = 1  # bump when a planner's expansion rule changes (invalidates the plan index)
    # kinds whose cached rows ``plan`` reads (through ``self.context``, a ``pipeline.kinds.context.
    # PlanContext`` given by ``bind``): the graph plans this kind after those are generated and embedded
    depends_on: ClassVar[tuple[str, ...]] = ()
    computed: ClassVar[bool] = False  # True: ``plan`` answers every request itself (``PlannedRequest.answer``)
    splits: tuple[str, ...] | None = None  # made only for these splits' videos and queries (``limit_to``); None: all
    _in_scope: frozenset[str] = frozenset()

    def __init__(self, ident: GenerationIdentity, settings: PlanSettings) -> None:
        self.ident = ident
        self.settings = settings
        self.key = KeyMaker(self.kind, ident)

    def limit_to(self, splits: Collection[str], query_ids: Collection[str]) -> None:
        """Make this kind only for ``splits`` (``PriorsConfig.kind_splits``), whose queries are
        ``query_ids``: a video none of them belongs to gets no request, a query outside them none."""
        self.splits, self._in_scope = tuple(splits), frozenset(query_ids)

    def scoped(self, video: VideoInput) -> VideoInput | None:
        """``video`` with only the queries of this kind's splits (what ``fingerprint`` and ``plan``
        are given), or None when none of its queries is in them: nothing to plan."""
        if self.splits is None:
            return video
        kept = tuple(q for q in video.queries if q.query_id in self._in_scope)
        return replace(video, queries=kept) if kept else None

    def request(
        self,
        video: VideoInput,
        *,
        t_start: float,
        t_end: float,
        frame_times: list[float],
        query: QueryInput | None = None,
        **prompt_vars: Any,
    ) -> PlannedRequest:
        key = self.key(
            video_sha256=video.video_sha256,
            video_id=video.video_id,
            t_start=t_start,
            t_end=t_end,
            frame_times=frame_times,
            query_sha256=query.text_sha256 if query else "",
        )
        variables = {
            "video_id": video.video_id,
            "duration": round(video.duration, 3),
            "t": t_start,
            "start": t_start,
            "end": t_end,
            "clip_start": t_start,
            "clip_end": t_end,
            "timestamps": frame_times,
            **prompt_vars,
        }
        if query is not None:
            variables["query"] = query.text
        return PlannedRequest(self.kind, key, query.query_id if query else "", t_start, t_end, frame_times, variables)

    def settle(self, kinds: Collection[str]) -> None:  # noqa: B027 - an optional hook
        """Called once with the run's kinds before any planning: a planner whose inputs depend on
        what else the run makes picks them here (default: nothing to pick)."""

    def bind(self, context: Any) -> None:
        """Give a planner that ``depends_on`` other kinds its view of their cached outputs."""
        self.context = context

    def fingerprint(self, video: VideoInput) -> str:
        """Hash of everything ``plan(video)`` depends on: the plan index's key."""
        return cache_key(
            {
                "planner": self.kind,
                "planner_version": self.version,
                "key_version": KEY_VERSION,
                "identity": asdict(self.ident),
                "settings": asdict(self.settings),
                "video": asdict(video),
            }
        )

    @abstractmethod
    def plan(self, video: VideoInput) -> list[PlannedRequest]:
        """Every request of this kind for the video, cached or not."""


PLANNERS: Registry[type[Planner]] = Registry("prior kind")
