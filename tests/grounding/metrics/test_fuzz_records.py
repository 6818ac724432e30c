"""Property-based tests of the prediction / ground-truth JSONL reader (hypothesis).

Any line gives either a validated row or an ``InputError`` (a ValueError) that starts with the
file and line and names the field (or says the line is not a JSON object); never another
exception type, and a validated row never holds a non-finite number. Seeds are fixed."""

from __future__ import annotations

import json
import math
from collections import Counter
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from grounding.metrics.records import GroundTruthRecord, PredictionRecord, parse_line, validate_rows
from groundwork.errors import InputError

EXAMPLES = 400
FUZZ = settings(max_examples=EXAMPLES, derandomize=True, deadline=None, database=None)
WHERE = "preds.jsonl:12"

WEIRD = st.sampled_from([math.nan, math.inf, -math.inf, 10**400, 1e308, -0.0, 0, 5e-324])
NUMBERS = st.one_of(
    st.integers(-100, 100),
    st.floats(-1e3, 1e3),
    st.floats(),
    WEIRD,
    st.sampled_from(["nan", "inf", "1e999", "3.5", ""]),
)
JSON = st.recursive(
    st.one_of(st.none(), st.booleans(), NUMBERS, st.text(max_size=5)),
    lambda kids: st.one_of(st.lists(kids, max_size=3), st.dictionaries(st.text(max_size=4), kids, max_size=3)),
    max_leaves=8,
)
WINDOW3 = st.lists(NUMBERS, min_size=3, max_size=3)
PRED_BASE = {
    "qid": 3,
    "query": "a man waves",
    "vid": "v1",
    "pred_relevant_windows": [[0, 5, 0.9], [2, 8, 0.5]],
    "pred_saliency_scores": [0.1, 0.5],
}
GT_BASE = {
    "qid": 3,
    "query": "a man waves",
    "vid": "v1",
    "duration": 150,
    "relevant_windows": [[2, 6]],
    "relevant_clip_ids": [1, 2],
    "saliency_scores": [[1, 2, 3], [4, 4, 4]],
    "split": "val",
}
PLAUSIBLE = {
    "qid": st.one_of(st.integers(), st.text(max_size=3), JSON),
    "pred_relevant_windows": st.one_of(st.lists(WINDOW3, max_size=3), JSON),
    "pred_saliency_scores": st.one_of(st.lists(NUMBERS, max_size=3), JSON),
    "duration": NUMBERS,
    "relevant_windows": st.one_of(st.lists(st.lists(NUMBERS, min_size=2, max_size=2), max_size=3), JSON),
    "relevant_clip_ids": st.lists(st.one_of(st.integers(0, 9), JSON), max_size=3),
    "saliency_scores": st.lists(st.lists(NUMBERS, max_size=3), max_size=3),
}


@st.composite
def mutated(draw: st.DrawFn, base: dict[str, Any]) -> dict[str, Any]:
    """``base`` with up to three fields dropped or replaced, sometimes an unknown field added."""
    out = dict(base)
    for key in draw(st.lists(st.sampled_from(sorted(base)), max_size=3, unique=True)):
        action = draw(st.sampled_from(["plausible", "plausible", "any", "drop"]))
        if action == "drop":
            del out[key]
        else:
            out[key] = draw(PLAUSIBLE.get(key, JSON) if action == "plausible" else JSON)
    if draw(st.integers(0, 3)) == 3:
        out[draw(st.text(max_size=4))] = draw(JSON)
    return out


def lines(base: dict[str, Any]) -> st.SearchStrategy[str]:
    near = mutated(base).map(json.dumps)
    far = st.one_of(
        near.flatmap(lambda s: st.integers(0, len(s)).map(lambda n: s[:n])), JSON.map(json.dumps), st.text(max_size=20)
    )
    return st.integers(0, 3).flatmap(lambda i: far if i == 3 else near)


def non_finite(value: Any) -> bool:
    if isinstance(value, float):
        return not math.isfinite(value)
    if isinstance(value, dict):
        return any(non_finite(v) for v in value.values())
    if isinstance(value, list | tuple):
        return any(non_finite(v) for v in value)
    return False


def check(line: str, model: type) -> str:
    try:
        (record,) = validate_rows([(WHERE, parse_line(line, WHERE))], model)
    except InputError as err:
        msg = str(err)
        assert msg.startswith(WHERE), msg
        assert "field '" in msg or "JSON" in msg, msg
        return "error"
    assert not non_finite(record.model_dump()), record
    json.dumps(record.model_dump(), allow_nan=False)
    return "parsed"


@pytest.mark.parametrize(("model", "base"), [(PredictionRecord, PRED_BASE), (GroundTruthRecord, GT_BASE)])
def test_jsonl_line(model: type, base: dict[str, Any]) -> None:
    """Prints the tally (shown with ``-s``); both outcomes must occur, or the inputs were too narrow."""
    outcomes: Counter[str] = Counter()

    @FUZZ
    @given(line=lines(base))
    def run(line: str) -> None:
        outcomes[check(line, model)] += 1

    run()
    print(f"{model.__name__}: {sum(outcomes.values())} examples {dict(sorted(outcomes.items()))}")  # noqa: T201
    assert outcomes["error"] and outcomes["parsed"], outcomes
