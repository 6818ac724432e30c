"""The event kind's own rules (MASRA's event priors): exact duplicates merged and counted from
the parser through the generate stage into the run report, and the frame count that scales with
the video's duration (a video of up to 32 s keeps the template's 8 frames and its cache keys)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from groundwork.cache.keys import GenerationIdentity
from pipeline.backends.base import Backend, GenerationRequest, GenerationResult, SamplingConfig
from pipeline.kinds import PLANNERS, PlanSettings, parser_of
from pipeline.kinds.base import VideoInput, frames_in_window
from pipeline.kinds.event import parse_events
from pipeline.kinds.structured import Item, structurers
from pipeline.prompts import load_prompt
from pipeline.report import RunReport
from pipeline.stages.decode import NO_IMAGES
from pipeline.stages.generate import GenerateStage

EVENTS = load_prompt("describe_events")


def _answer(*events: tuple[float, float, str]) -> str:
    return json.dumps([{"start": s, "end": e, "description": d} for s, e, d in events])


def test_exact_duplicates_merge_into_the_union_of_their_spans() -> None:
    text = _answer(
        (0, 2, "a circle appears"),
        (5, 6, "a circle appears"),
        (1, 3, "it turns red"),
        (2, 5, " a circle appears "),
        (9, 10, "a circle appears"),
        (1, 3, "it turns red"),
    )
    out = parse_events(EVENTS, text, 0.0, 12.0)
    # (0,2)+(2,5) touch -> (0,5), which now touches (5,6) -> (0,6); the repeat at (9,10) is a second event
    assert out.items == [
        Item(0.0, 6.0, "a circle appears"),
        Item(1.0, 3.0, "it turns red"),
        Item(9.0, 10.0, "a circle appears"),
    ]
    assert (out.n_merged, out.n_clipped, out.n_dropped) == (3, 0, 0)


def test_merging_comes_after_clipping_and_dropping() -> None:
    text = _answer((8, 15, "it moves"), (9, 10, "it moves"), (12, 14, "it moves"), (0, 1, "It moves"))
    out = parse_events(EVENTS, text, 0.0, 10.0)
    assert out.items == [Item(8.0, 10.0, "it moves"), Item(0.0, 1.0, "It moves")]  # case differs: not exact
    assert (out.n_clipped, out.n_dropped, out.n_merged) == (2, 1, 1)


class FakeDuplicateEventsBackend(Backend):
    """Fake: answers every event request with two copies of one event (a model that repeats itself)."""

    name = "fake-duplicate-events"

    def run(
        self, requests: list[GenerationRequest], prepared: list[Any], sampling: SamplingConfig
    ) -> list[GenerationResult]:
        answer = _answer((1, 3, "a square grows"), (1, 3, "a square grows"), (4, 6, "it fades"))
        return [GenerationResult(r.key, answer, n_prompt_tokens=3, n_output_tokens=3) for r in requests]


def test_generate_carries_the_merge_count_into_the_report() -> None:
    stage = GenerateStage(
        lambda: FakeDuplicateEventsBackend("m", SamplingConfig()),
        {"event": EVENTS.json_schema},
        structurers=structurers({"event": EVENTS}, {"event": parser_of("event")}),
    )
    stage.setup()
    n = 2
    batch = {
        "key": ["k0", "k1"],
        "kind": ["event"] * n,
        "video_id": ["v0", "v1"],
        "prompt": ["p"] * n,
        "prompt_id": [EVENTS.id] * n,
        "prompt_vars": ["{}"] * n,
        "images": [NO_IMAGES] * n,
        "status": ["ok"] * n,
        "error_type": [""] * n,
        "error": [""] * n,
        "t_start": [0.0] * n,
        "t_end": [10.0] * n,
    }
    out = stage.process_batch(batch)
    assert out["n_merged"] == [1, 1] and out["n_items"] == [2, 2]
    report = RunReport()
    report.add_generation({**out, "n_decoded": [0] * n, "embedded": [False] * n})
    assert (report.events_parsed, report.events_merged, report.items_by_kind) == (6, 2, {"event": 4})
    assert "events_merged" in report.table()


@pytest.mark.parametrize(
    ("duration", "frames"), [(5.0, 8), (30.6, 8), (32.0, 8), (33.0, 9), (60.0, 15), (150.0, 32), (300.0, 32)]
)
def test_event_frames_scale_with_duration_between_the_template_and_the_cap(duration: float, frames: int) -> None:
    assert PlanSettings(n_images=8).event_frames(duration) == frames
    assert PlanSettings(n_images=8, event_seconds_per_frame=0.0).event_frames(duration) == 8  # the fixed rule
    assert PlanSettings(n_images=8, event_max_frames=64).event_frames(300.0) == 64


def test_short_videos_keep_their_frames_and_keys_long_ones_get_more_frames() -> None:
    ident = GenerationIdentity("m", "r", EVENTS.id, EVENTS.version, EVENTS.sha256, {}, {})
    scaled = PLANNERS.get("event")(ident, PlanSettings(n_images=EVENTS.n_images))
    fixed = PLANNERS.get("event")(ident, PlanSettings(n_images=EVENTS.n_images, event_seconds_per_frame=0.0))
    short, long = VideoInput("s", "/x/s.mp4", 30.0, "a" * 64), VideoInput("l", "/x/l.mp4", 150.0, "b" * 64)
    (a,), (b,) = scaled.plan(short), fixed.plan(short)
    assert a.frame_times == b.frame_times == frames_in_window(0.0, 30.0, 8) and a.key == b.key
    (c,), (d,) = scaled.plan(long), fixed.plan(long)
    assert len(c.frame_times) == 32 and len(d.frame_times) == 8 and c.key != d.key
    prompt = EVENTS.render(**{k: c.prompt_vars[k] for k in EVENTS.variables})
    assert "These 32 images" in prompt and "frame 32: 147.7 s" in prompt
