"""Parse / validate / clip / expand of structured answers, on hand-written model texts."""

from __future__ import annotations

import json

import pytest

from pipeline.kinds import parser_of
from pipeline.kinds.event import parse_events
from pipeline.kinds.query_rewrite import GRANULARITIES, parse_rewrites
from pipeline.kinds.structured import Item, item_key, item_keys, structurers
from pipeline.prompts import load_prompt

EVENTS = load_prompt("describe_events")
REWRITE = load_prompt("rewrite_query")


def _events(*spans: tuple) -> str:
    return json.dumps([{"start": s, "end": e, "description": f"event {i}"} for i, (s, e) in enumerate(spans)])


def test_valid_events_become_items_in_order() -> None:
    out = parse_events(EVENTS, _events((0, 4.5), (4.5, 12), (10, 20)), 0.0, 24.0)
    assert out.status == "ok" and (out.n_clipped, out.n_dropped) == (0, 0)
    assert out.items == [Item(0.0, 4.5, "event 0"), Item(4.5, 12.0, "event 1"), Item(10.0, 20.0, "event 2")]


def test_fenced_json_with_prose_around_the_fence_is_not_accepted_but_a_bare_fence_is() -> None:
    fenced = "```json\n" + _events((1, 2)) + "\n```"
    assert parse_events(EVENTS, fenced, 0.0, 10.0).items == [Item(1.0, 2.0, "event 0")]
    chatty = "Sure! Here are the events:\n" + fenced
    assert parse_events(EVENTS, chatty, 0.0, 10.0).error_type == "invalid_json"


@pytest.mark.parametrize(
    ("text", "error_type"),
    [
        ("The video shows a red circle.", "invalid_json"),
        ('[{"start": 0, "end": 2, "description": "cut off', "invalid_json"),
        ("", "invalid_json"),
        ("[]", "schema_violation"),  # minItems 1
        ('{"start": 0, "end": 2, "description": "not a list"}', "schema_violation"),
        ('[{"start": 0, "end": 2}]', "schema_violation"),  # description missing
        ('[{"start": "0", "end": 2, "description": "x"}]', "schema_violation"),
        ('[{"start": 0, "end": 2, "description": "x", "score": 1}]', "schema_violation"),  # additionalProperties
        ('[{"start": -1, "end": 2, "description": "x"}]', "schema_violation"),  # minimum 0
        ('[{"start": 5, "end": 2, "description": "x"}]', "bad_span"),
        ('[{"start": 2, "end": 2, "description": "x"}]', "bad_span"),
        ('[{"start": NaN, "end": 2, "description": "x"}]', "bad_span"),
        ('[{"start": 0, "end": Infinity, "description": "x"}]', "bad_span"),
    ],
)
def test_invalid_answers_are_typed_errors(text: str, error_type: str) -> None:
    out = parse_events(EVENTS, text, 0.0, 10.0)
    assert (out.status, out.error_type, out.items) == ("error", error_type, [])
    assert out.error.startswith(error_type) and "describe_events" in out.error


def test_one_bad_span_fails_the_whole_answer() -> None:
    assert parse_events(EVENTS, _events((0, 2), (6, 3)), 0.0, 10.0).error_type == "bad_span"


def test_spans_outside_the_video_are_clipped_and_empty_ones_dropped_and_counted() -> None:
    out = parse_events(EVENTS, _events((0, 4), (8, 15), (12, 14), (10, 11)), 0.0, 10.0)
    assert out.status == "ok"
    assert out.items == [Item(0.0, 4.0, "event 0"), Item(8.0, 10.0, "event 1")]
    assert (out.n_clipped, out.n_dropped) == (3, 2)  # (8,15)->(8,10); (12,14) and (10,11) -> empty


def test_an_answer_whose_every_event_is_dropped_is_still_ok_with_zero_items() -> None:
    out = parse_events(EVENTS, _events((30, 40)), 0.0, 10.0)
    assert (out.status, out.items, out.n_dropped) == ("ok", [], 1)
    assert out.items_json() == "[]"


def test_rewrites_expand_to_three_items_in_granularity_order() -> None:
    answer = json.dumps(
        {
            "fine": "a woman in red opens the white fridge",
            "coarse": "someone opens a fridge",
            "original": "a person opens the fridge",
        }
    )
    out = parse_rewrites(REWRITE, answer, 0.0, 0.0)
    assert GRANULARITIES == ("coarse", "original", "fine")
    assert [i.text for i in out.items] == [
        "someone opens a fridge",
        "a person opens the fridge",
        "a woman in red opens the white fridge",
    ]
    missing = parse_rewrites(REWRITE, json.dumps({"coarse": "a", "original": "b"}), 0.0, 0.0)
    assert missing.error_type == "schema_violation"
    assert parse_rewrites(REWRITE, json.dumps({"coarse": "", "original": "b", "fine": "c"}), 0, 0).status == "error"


def test_item_keys_are_stable_distinct_and_stop_at_the_first_gap() -> None:
    keys = [item_key("r1", i) for i in range(3)]
    assert keys == [item_key("r1", i) for i in range(3)] and len(set(keys)) == 3
    assert item_key("r2", 0) not in keys
    assert item_keys("r1", set(keys)) == keys
    assert item_keys("r1", {keys[0], keys[2]}) == [keys[0]]
    assert item_keys("r1", set()) == []


def test_structurers_exist_for_json_kinds_only() -> None:
    templates = {"event": EVENTS, "query_rewrite": REWRITE, "narrative": load_prompt("narrate_frame")}
    got = structurers(templates, {k: parser_of(k) for k in templates})
    assert set(got) == {"event", "query_rewrite"}
    assert got["event"](_events((0, 1)), 0.0, 5.0).items == [Item(0.0, 1.0, "event 0")]
