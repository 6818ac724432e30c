"""Property-based tests of every annotation reader's line / entry parser (hypothesis).

For any input, a parser either adds rows to the builder or raises ``InputError`` (a ValueError)
whose message starts with the file and line (or entry) and names the field; never another
exception type, and the built Annotations never hold a non-finite number, an empty video id or
a window outside ``[0, duration]``. Inputs are valid entries with fields dropped or replaced by
arbitrary JSON values (NaN, ±Infinity, 400-digit integers, "nan" strings, nulls, nested lists
and objects), plus arbitrary text and bytes. Seeds are fixed (``derandomize=True``)."""

from __future__ import annotations

import json
import math
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from groundwork.errors import InputError
from pipeline.datasets import charades, tacos
from pipeline.datasets.builder import AnnotationBuilder
from pipeline.datasets.charades import read_sta_line
from pipeline.datasets.policies import all_finite
from pipeline.datasets.qvhighlights import read_qvh_jsonl, read_qvh_line
from pipeline.datasets.video_json import read_video_entry
from pipeline.datasets.vidstg import read_vidstg_entry

EXAMPLES = 300
FUZZ = settings(
    max_examples=EXAMPLES, derandomize=True, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow]
)
WHERE = "ann.json:7"

# -- value strategies ----------------------------------------------------------------------------
WEIRD = st.sampled_from([math.nan, math.inf, -math.inf, 10**400, -(10**400), 1e308, -0.0, 0, 5e-324, 2**63])
NUMBERS = st.one_of(st.integers(-1000, 1000), st.floats(-1e4, 1e4), st.floats(), WEIRD)
NUMERIC_TEXT = st.sampled_from(["nan", "NaN", "inf", "-inf", "1e999", "", " ", "3.5", "1_0", "0x10", "-1"])
SCALARS = st.one_of(st.none(), st.booleans(), NUMBERS, st.text(max_size=6), NUMERIC_TEXT)
JSON = st.recursive(
    SCALARS,
    lambda kids: st.one_of(st.lists(kids, max_size=3), st.dictionaries(st.text(max_size=4), kids, max_size=3)),
    max_leaves=8,
)
WINDOW = st.lists(NUMBERS, min_size=2, max_size=2)
WINDOWS = st.one_of(st.lists(WINDOW, max_size=3), WINDOW, JSON)


@st.composite
def mutated(draw: st.DrawFn, base: dict[str, Any], plausible: dict[str, st.SearchStrategy]) -> dict[str, Any]:
    """``base`` with up to three of its fields dropped, replaced by a plausible value or by any
    JSON value, and sometimes an unknown field added (most examples stay close to valid, so
    they reach the later checks)."""
    out = dict(base)
    for key in draw(st.lists(st.sampled_from(sorted(base)), max_size=3, unique=True)):
        action = draw(st.sampled_from(["plausible", "plausible", "any", "drop"]))
        if action == "drop":
            del out[key]
        else:
            out[key] = draw(plausible.get(key, JSON) if action == "plausible" else JSON)
    if draw(st.integers(0, 4)) == 0:
        out[draw(st.text(max_size=4))] = draw(JSON)
    return out


def mostly(near: st.SearchStrategy, far: st.SearchStrategy) -> st.SearchStrategy:
    """``near`` three times in four, else ``far`` (``st.one_of`` would give each half)."""
    return st.integers(0, 3).flatmap(lambda i: far if i == 3 else near)


# -- the property ----------------------------------------------------------------------------------
def check(parse: Callable[[AnnotationBuilder], Any], fields: tuple[str, ...], where: str = WHERE) -> str:
    """Run one parse into a fresh builder: an InputError must name ``where`` and a field (or the
    JSON of the whole line / entry); otherwise the built Annotations must be clean."""
    builder = AnnotationBuilder("fuzz")
    try:
        parse(builder)
    except InputError as err:
        msg = str(err)
        assert msg.startswith(where), msg
        assert any(field in msg for field in (*fields, "JSON", "UTF-8")), msg
        return "error"
    ann = builder.build()
    for q in ann.queries:
        assert isinstance(q.video_id, str) and q.video_id.strip() and q.video_id in ann.videos
        assert isinstance(q.text, str) and q.text == q.text.strip() and q.text
        assert math.isfinite(q.duration) and q.duration > 0
        assert all(0 <= s < e <= q.duration for s, e in q.windows), q.windows
        assert all_finite(q.extra), q.extra
        json.dumps(q.extra, allow_nan=False, default=str)  # what the manifest writes
    dropped = sum(n for c in ann.policies.counts.values() for rule, n in c.items() if rule.startswith("dropped_"))
    assert sum(ann.queries_read.values()) - len(ann.queries) <= dropped  # every drop is counted
    return "kept" if ann.queries else "dropped"


def report(parser: str, outcomes: Counter[str]) -> None:
    """Print the tally (shown with ``-s``) and require both a refused and an accepted input, so
    the generated inputs reach past the first check."""
    print(f"{parser}: {sum(outcomes.values())} examples {dict(sorted(outcomes.items()))}")  # noqa: T201
    assert outcomes["error"] and (outcomes["kept"] or outcomes["dropped"]), (parser, outcomes)


# -- charades_sta ----------------------------------------------------------------------------------
DECIMAL = st.from_regex(r"-?[0-9]{1,2}(\.[0-9]{1,2})?", fullmatch=True)
STA_TOKEN = mostly(DECIMAL, st.one_of(NUMERIC_TEXT, st.text(max_size=4)))
STA_PARTS = st.builds(
    lambda v, s, e, sep, t: f"{v} {s} {e}{sep}{t}",
    mostly(st.just("V1"), st.sampled_from(["V2", "", "V 3", "3"])),
    STA_TOKEN,
    STA_TOKEN,
    mostly(st.just("##"), st.sampled_from(["#", "## ", ""])),
    mostly(st.just("a person sits."), st.text(max_size=12)),
)
STA_LINE = mostly(STA_PARTS, st.text(max_size=30))
LENGTH = st.one_of(st.sampled_from(["30.5", "12", "0.4"]), NUMERIC_TEXT, st.text(max_size=5))
DURATIONS = st.fixed_dictionaries({"V1": mostly(st.just("30.5"), LENGTH)}, optional={"V2": LENGTH, "3": LENGTH})


def test_charades_sta_line() -> None:
    outcomes: Counter[str] = Counter()

    @FUZZ
    @given(line=STA_LINE, durations=DURATIONS)
    def run(line: str, durations: dict[str, str]) -> None:
        parse = lambda b: read_sta_line(b, line, WHERE, "train", "train:7", durations)  # noqa: E731
        outcomes[check(parse, ("'start'", "'end'", "VID"))] += 1

    run()
    report("charades_sta line", outcomes)


# -- the video-json entry (charades_cd / cg, activitynet(_cd), tacos) ------------------------------
VJ_BASE = {
    "sentences": ["a person sits.", " a man runs "],
    "timestamps": [[1.0, 4.5], [3, 9]],
    "duration": 20.0,
    "video_duration": 20.0,
    "num_frames": 600,
    "fps": 30.0,
    "news": [{"DET": ["all"]}, {}],
    "novels": [["a", "b"], []],
}
VJ_PLAUSIBLE = {
    "sentences": st.lists(st.one_of(st.text(max_size=8), JSON), max_size=3),
    "timestamps": st.one_of(st.lists(WINDOWS, max_size=3), JSON),
    "duration": st.one_of(NUMBERS, NUMERIC_TEXT),
    "video_duration": st.one_of(NUMBERS, NUMERIC_TEXT),
    "num_frames": st.one_of(NUMBERS, NUMERIC_TEXT),
    "fps": NUMBERS,
    "news": st.lists(JSON, max_size=3),
    "novels": st.lists(JSON, max_size=3),
}
VJ_FORMATS = {  # the read_video_json options of each adapter that reads this format
    "activitynet": {},  # and activitynet_cd
    "charades_cd": charades.CD_ENTRY,
    "charades_cg": charades.CG_ENTRY,
    "tacos": tacos.ENTRY,
}
VJ_FIELDS = ("'sentences'", "'timestamps'", "timestamps:", "'fps'", "'video id'", "'news'", "'novels'", "'text'")


@pytest.mark.parametrize("fmt", sorted(VJ_FORMATS))
def test_video_json_entry(fmt: str) -> None:
    outcomes: Counter[str] = Counter()

    @FUZZ
    @given(
        key=st.one_of(st.sampled_from(["v_abc", "s13-d21.avi", ".avi", "", " "]), st.text(max_size=5)),
        entry=mostly(mutated(VJ_BASE, VJ_PLAUSIBLE), JSON),
    )
    def run(key: str, entry: object) -> None:
        where = f"ann.json:{key}"
        parse = lambda b: read_video_entry(b, key, entry, where, "train", **VJ_FORMATS[fmt])  # noqa: E731
        outcomes[check(parse, VJ_FIELDS, where)] += 1

    run()
    report(f"video-json entry ({fmt})", outcomes)


# -- qvhighlights / folder JSONL line --------------------------------------------------------------
QVH_BASE = {
    "qid": 7,
    "query": "a man waves",
    "vid": "abc_60.0_210.0",
    "duration": 150,
    "relevant_windows": [[2, 6], [10, 20]],
    "relevant_clip_ids": [1, 2],
    "saliency_scores": [[1, 2, 3], [4, 4, 4]],
}
QVH_PLAUSIBLE = {
    "qid": st.one_of(st.integers(), st.text(max_size=4), JSON),
    "vid": st.one_of(st.text(max_size=4), JSON),
    "query": st.one_of(st.text(max_size=8), JSON),
    "duration": st.one_of(NUMBERS, NUMERIC_TEXT),
    "relevant_windows": WINDOWS,
    "relevant_clip_ids": st.lists(st.one_of(st.integers(0, 80), JSON), max_size=3),
    "saliency_scores": st.lists(st.lists(NUMBERS, max_size=3), max_size=3),
}
QVH_FIELDS = (
    "'qid'",
    "'vid'",
    "'query'",
    "'duration'",
    "relevant_windows",
    "'relevant_clip_ids'",
    "'saliency_scores'",
    "duplicate query id",
)
QVH_LINE = mostly(
    mutated(QVH_BASE, QVH_PLAUSIBLE).map(json.dumps),
    st.one_of(
        mutated(QVH_BASE, QVH_PLAUSIBLE).map(json.dumps).flatmap(lambda s: st.integers(0, len(s)).map(lambda n: s[:n])),
        JSON.map(json.dumps),
        st.text(max_size=30),
    ),
)


def test_qvhighlights_jsonl_line() -> None:
    outcomes: Counter[str] = Counter()

    @FUZZ
    @given(line=QVH_LINE)
    def run(line: str) -> None:
        outcomes[check(lambda b: read_qvh_line(b, line, WHERE, "train"), QVH_FIELDS)] += 1

    run()
    report("qvhighlights/folder line", outcomes)


def test_qvhighlights_file_bytes(tmp_path: Path) -> None:
    """Whole files of arbitrary bytes: not UTF-8 and odd line ends are named errors too."""
    outcomes: Counter[str] = Counter()
    path = tmp_path / "train.jsonl"

    @settings(FUZZ, max_examples=100)
    @given(
        raw=st.one_of(
            st.binary(max_size=200),
            QVH_LINE.map(lambda s: s.encode() + b"\r\n" + s.encode()),
            QVH_LINE.map(lambda s: s.encode() + b"\n\xff\n"),
        )
    )
    def run(raw: bytes) -> None:
        path.write_bytes(raw)
        outcomes[check(lambda b: read_qvh_jsonl(b, path, "train"), QVH_FIELDS, str(path))] += 1

    run()
    report("qvhighlights/folder file bytes", outcomes)


# -- vidstg entry ----------------------------------------------------------------------------------
VIDSTG_BASE = {
    "vid": "10712559773",
    "fps": 29.97,
    "frame_count": 596,
    "used_segment": {"begin_fid": 496, "end_fid": 595},
    "subject/objects": [{"tid": 0, "category": "adult"}, {"tid": 2, "category": "child"}],
    "used_relation": {"subject_tid": 2, "object_tid": 0, "predicate": "watch", "begin_fid": 510, "end_fid": 556},
    "temporal_gt": {"begin_fid": 510, "end_fid": 556},
    "captions": [{"description": "the child watches.", "type": "person", "target_id": 2}],
    "questions": [{"description": "who watches?", "type": "person", "target_id": 2}],
}
FRAMES = {"begin_fid": 0, "end_fid": 10}
VIDSTG_PLAUSIBLE = {
    "vid": st.one_of(st.text(max_size=4), JSON),
    "fps": NUMBERS,
    "frame_count": NUMBERS,
    "used_segment": mutated(FRAMES, {"begin_fid": NUMBERS, "end_fid": NUMBERS}),
    "temporal_gt": mutated(FRAMES, {"begin_fid": NUMBERS, "end_fid": NUMBERS}),
    "used_relation": JSON,
    "subject/objects": st.lists(
        mutated({"tid": 0, "category": "adult"}, {"tid": st.one_of(st.integers(), JSON)}), max_size=3
    ),
    "captions": st.lists(
        mutated(VIDSTG_BASE["captions"][0], {"target_id": st.one_of(st.integers(0, 3), JSON)}), max_size=2
    ),
    "questions": st.lists(mutated(VIDSTG_BASE["questions"][0], {}), max_size=2),
}
VIDSTG_FIELDS = (
    "'vid'",
    "'fps'",
    "'frame_count'",
    "'used_segment'",
    "'temporal_gt'",
    "'begin_fid'",
    "'end_fid'",
    "'subject/objects'",
    "'tid'",
    "'category'",
    "'used_relation'",
    "'captions'",
    "'questions'",
    "'description'",
    "'target_id'",
)


def test_vidstg_entry() -> None:
    outcomes: Counter[str] = Counter()
    where = "val_annotations.json[3]"

    @FUZZ
    @given(entry=mostly(mutated(VIDSTG_BASE, VIDSTG_PLAUSIBLE), JSON))
    def run(entry: object) -> None:
        outcomes[check(lambda b: read_vidstg_entry(b, entry, 3, where, "val"), VIDSTG_FIELDS, where)] += 1

    run()
    report("vidstg entry", outcomes)
