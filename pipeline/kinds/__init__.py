"""Prior kinds, one module each; importing this package registers them all in ``PLANNERS``.
``pipeline/kinds/base.py`` says what a new kind takes (a planner, a prompt file and, for JSON
answers, a parser); everything below is derived from the registry."""

from __future__ import annotations

# importing each kind's module registers its planner in PLANNERS
from pipeline.kinds import (  # noqa: F401
    clip_caption,
    event,
    frame_caption,
    key_frame,
    key_frame_caption,
    narrative,
    query_caption,
    query_rewrite,
    query_rewrite_pairs,
    temporal_reasoning,
)
from pipeline.kinds.base import PLANNERS, PlannedRequest, Planner, PlanSettings, QueryInput, VideoInput
from pipeline.kinds.structured import Parser


def kind_names() -> list[str]:
    """Every registered prior kind (tests may register more)."""
    return PLANNERS.names()


def default_prompts() -> dict[str, str]:
    """kind -> the id of its default prompt template."""
    return {name: PLANNERS.get(name).prompt for name in PLANNERS.names()}


def parser_of(kind: str) -> Parser | None:
    """The JSON-answer parser of a structured kind; None for plain-text kinds."""
    return PLANNERS.get(kind).parser


def structured_kinds() -> list[str]:
    return [name for name in PLANNERS.names() if PLANNERS.get(name).parser is not None]


__all__ = [
    "PLANNERS",
    "PlanSettings",
    "PlannedRequest",
    "Planner",
    "QueryInput",
    "VideoInput",
    "default_prompts",
    "kind_names",
    "parser_of",
    "structured_kinds",
]
