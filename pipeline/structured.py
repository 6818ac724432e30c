"""Structured answers (JSON priors): parse, validate, clip and expand one model answer into the
items that become prior rows. Plain Python, no model: the ``generate`` stage calls a kind's
structurer after each attempt (and retries an invalid answer), the ``write`` stage expands.

Kinds and their items:

* ``event`` (``describe_events``): a JSON list of ``{start, end, description}``. Spans must be
  finite with ``start < end`` (else ``bad_span``); spans sticking out of ``[0, duration]`` are
  clipped to the video and counted, and a span left with zero length is dropped and counted.
  One item per kept event, in the model's order.
* ``query_rewrite`` (``rewrite_query``): a JSON object ``{coarse, original, fine}``. Three items,
  always in ``GRANULARITIES`` order, so a manifest row's ``query_rewrite_keys`` is either empty
  (the request failed) or ``[coarse, original, fine]``: GranAlign pairs each granularity with
  the captions by that position.

Rows of a structured request (see ``item_key``): a *request row* keyed by the request key (the
plan's key: ``status`` ok and empty ``text`` once answered, or the one error row with the raw
answer kept) plus one *item row* per item, keyed ``item_key(request_key, i)`` for i = 0..n-1,
all written in one shard. The request row is what a rerun finds cached, so an answer with zero
valid events is still done; readers use the manifest, which lists only item keys.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

import jsonschema

from pipeline.hashing import cache_key
from pipeline.registry import Registry

GRANULARITIES = ("coarse", "original", "fine")


@dataclass(frozen=True)
class Item:
    """One prior row's worth of a structured answer."""

    t_start: float
    t_end: float
    text: str


@dataclass
class Outcome:
    """An answer parsed: ``ok`` with its items, or an ``error_type`` (invalid_json,
    schema_violation, bad_span) and a message naming the problem."""

    status: str
    items: list[Item] = field(default_factory=list)
    error_type: str = ""
    error: str = ""
    n_clipped: int = 0  # spans clipped to [0, duration]
    n_dropped: int = 0  # spans of zero length after clipping, dropped

    def items_json(self) -> str:
        return json.dumps([[i.t_start, i.t_end, i.text] for i in self.items])


def items_from_json(text: str) -> list[Item]:
    return [Item(float(s), float(e), str(t)) for s, e, t in json.loads(text or "[]")]


def item_key(request_key: str, index: int) -> str:
    """Key of a structured request's ``index``-th item row: hash of (request key, index)."""
    return cache_key({"request": request_key, "item": int(index)})


def item_keys(request_key: str, present: set[str]) -> list[str]:
    """The item keys of a request found in ``present``: indices 0, 1, ... up to the first gap
    (a request's item rows are written together, so there is none unless a shard was lost)."""
    out = []
    while (key := item_key(request_key, len(out))) in present:
        out.append(key)
    return out


def split_request_and_item_keys(ok: set[str]) -> tuple[set[str], set[str]]:
    """A structured kind's ok keys split into (request keys, item keys), from the keys alone: an
    item is ``item_key(request, i)`` of an ok request; every other ok key is a request (one
    answered with zero valid events has no items and is still a request)."""
    items = {key for request in ok for key in item_keys(request, ok)}
    return ok - items, items


class Template(Protocol):  # pipeline.prompts.PromptTemplate, the part used here
    id: str

    def parse_output(self, text: str) -> Any: ...


def parse_json(template: Template, text: str) -> tuple[Any, Outcome | None]:
    """``template.parse_output`` with its ValueError sorted into invalid_json / schema_violation."""
    try:
        return template.parse_output(text), None
    except ValueError as exc:
        kind = "schema_violation" if isinstance(exc.__cause__, jsonschema.ValidationError) else "invalid_json"
        return None, Outcome("error", error_type=kind, error=f"{kind}: {exc}")


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


def parse_rewrites(template: Template, text: str, t_start: float, t_end: float) -> Outcome:
    value, failed = parse_json(template, text)
    if failed:
        return failed
    return Outcome("ok", [Item(float(t_start), float(t_end), value[g]) for g in GRANULARITIES])


Parser = Callable[[Template, str, float, float], Outcome]
STRUCTURED: Registry[Parser] = Registry("structured prior kind")
STRUCTURED.register("event")(parse_events)
STRUCTURED.register("query_rewrite")(parse_rewrites)


@dataclass(frozen=True)
class Structurer:
    """A kind's parser bound to its template: ``structurer(text, t_start, t_end) -> Outcome``."""

    template: Any
    parser: Parser

    def __call__(self, text: str, t_start: float, t_end: float) -> Outcome:
        return self.parser(self.template, text, t_start, t_end)


def structurers(templates: dict[str, Any]) -> dict[str, Structurer]:
    """One structurer per kind that has a registered parser (the others are plain text)."""
    return {kind: Structurer(tpl, STRUCTURED.get(kind))
            for kind, tpl in templates.items() if kind in STRUCTURED}
