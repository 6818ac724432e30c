"""``query_rewrite_pairs``: GranAlign's granularity-based query rewriting (Step A), the second
version of ``query_rewrite`` (which stays as it was: its prompt ``rewrite_query`` v1, its three
granularities). One text-only request per query; the JSON answer (``prompts/rewrite_query_pairs``)
holds m = 3 (simplified, detailed) pairs and the entities and actions the query names.

The answer expands into ``2 m`` item rows in a fixed order, simplified then detailed for each pair
(``ROLES``), so a manifest row's ``query_rewrite_pairs_keys`` is either empty (the request failed)
or ``[s1, d1, s2, d2, s3, d3]``: a reader pairs them by position (``grounding.models.granalign``).
The entities and actions are not rows of their own: they stay in the request row's ``raw`` answer,
where the query-aware caption planner reads them (``focus_of``)."""

from __future__ import annotations

import json
from dataclasses import dataclass

from pipeline.kinds.base import PLANNERS, PlannedRequest, Planner, VideoInput
from pipeline.kinds.structured import Item, Outcome, Template, parse_json

ROLES = ("simplified", "detailed")
NONE_NAMED = "none named"


def parse_rewrite_pairs(template: Template, text: str, t_start: float, t_end: float) -> Outcome:
    """The pairs of a valid answer as items, ``ROLES`` order within each pair (the schema has
    made sure every role is a non-empty string)."""
    value, failed = parse_json(template, text)
    if failed:
        return failed
    return Outcome(
        "ok", [Item(float(t_start), float(t_end), pair[role].strip()) for pair in value["pairs"] for role in ROLES]
    )


@dataclass(frozen=True)
class Focus:
    """What the query names, to guide its query-aware captions."""

    entities: tuple[str, ...]
    actions: tuple[str, ...]

    @property
    def entities_text(self) -> str:
        return "; ".join(self.entities) or NONE_NAMED

    @property
    def actions_text(self) -> str:
        return "; ".join(self.actions) or NONE_NAMED


def focus_of(raw: str) -> Focus:
    """The entities and actions of an ok request row's answer (JSON the schema validated)."""
    value = json.loads(raw)
    return Focus(_phrases(value.get("entities", [])), _phrases(value.get("actions", [])))


def _phrases(words: list[str]) -> tuple[str, ...]:
    return tuple(w.strip() for w in words if w.strip())


@PLANNERS.register("query_rewrite_pairs")
class QueryRewritePairsPlanner(Planner):
    """Text-only: one request per query (no frames, so decode opens no video)."""

    kind = "query_rewrite_pairs"
    prompt = "rewrite_query_pairs"
    parser = staticmethod(parse_rewrite_pairs)

    def plan(self, video: VideoInput) -> list[PlannedRequest]:
        return [self.request(video, t_start=0.0, t_end=0.0, frame_times=[], query=q) for q in video.queries]
