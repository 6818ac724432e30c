"""Structured answers (JSON priors): the generic part of parsing, validating and expanding one
model answer into the items that become prior rows. Plain Python, no model: the ``generate``
stage calls a structured kind's parser after each attempt (and retries an invalid answer), the
``write`` stage expands. A kind is structured when its planner names a ``parser``
(``pipeline/kinds/event.py``, ``query_rewrite.py``).

Rows of a structured request (see ``item_key``): a *request row* keyed by the request key (the
plan's key: ``status`` ok and empty ``text`` once answered, or the one error row with the raw
answer kept) plus one *item row* per item, keyed ``item_key(request_key, i)`` for i = 0..n-1,
all written in one shard. The request row is what a rerun finds cached, so an answer with zero
valid items is still done; readers use the manifest, which lists only item keys.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

import jsonschema

from groundwork.cache.hashing import cache_key


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
    n_merged: int = 0  # items merged into an earlier one (exact duplicates: same text, overlapping spans)

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


Parser = Callable[["Template", str, float, float], Outcome]


@dataclass(frozen=True)
class Structurer:
    """A kind's parser bound to its template: ``structurer(text, t_start, t_end) -> Outcome``."""

    template: Any
    parser: Parser

    def __call__(self, text: str, t_start: float, t_end: float) -> Outcome:
        return self.parser(self.template, text, t_start, t_end)


def structurers(templates: dict[str, Any], parsers: dict[str, Parser | None]) -> dict[str, Structurer]:
    """One structurer per kind whose planner has a parser (the others are plain text)."""
    return {
        kind: Structurer(tpl, parser) for kind, tpl in templates.items() if (parser := parsers.get(kind)) is not None
    }
