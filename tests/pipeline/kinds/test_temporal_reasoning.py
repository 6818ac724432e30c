"""The temporal-reasoning kind (Bridge-STG's cached prior): the parser's items and span rules,
the planner's one request per query, and the shapes narrator's answer on generated STVG videos
(its span finds the described event, its target names the shape)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from groundwork.cache.hashing import sha256_text
from groundwork.cache.keys import GenerationIdentity
from groundwork.stvg import StvgQuery
from pipeline.backends.base import GenerationRequest, SamplingConfig
from pipeline.datasets import DATASETS
from pipeline.demo.narrator import Noise, reason_when_what
from pipeline.demo.stvg import generate_stvg_demo
from pipeline.frames import FrameSampler
from pipeline.kinds import PLANNERS, PlanSettings, parser_of
from pipeline.kinds.base import QueryInput, VideoInput
from pipeline.kinds.structured import Item
from pipeline.kinds.temporal_reasoning import ITEMS, parse_reasoning
from pipeline.prompts import load_prompt

PROMPT = load_prompt("reason_when_what")


def _answer(start: float, end: float, target: str = "the red circle", reasoning: str = "it moves then") -> str:
    return json.dumps({"start": start, "end": end, "target": target, "reasoning": reasoning})


def test_an_answer_becomes_reasoning_then_target_with_its_span() -> None:
    assert parser_of("temporal_reasoning") is parse_reasoning and ITEMS == ("reasoning", "target")
    out = parse_reasoning(PROMPT, _answer(2.0, 4.5, " the red circle "), 0.0, 10.0)
    assert out.status == "ok" and out.n_clipped == 0
    assert out.items == [Item(2.0, 4.5, "it moves then"), Item(2.0, 4.5, "the red circle")]


def test_span_rules() -> None:
    clipped = parse_reasoning(PROMPT, _answer(8.0, 12.0), 0.0, 10.0)
    assert clipped.status == "ok" and clipped.n_clipped == 1 and clipped.items[0].t_end == 10.0
    for start, end in ((5.0, 5.0), (6.0, 2.0)):
        bad = parse_reasoning(PROMPT, _answer(start, end), 0.0, 10.0)
        assert bad.status == "error" and bad.error_type == "bad_span"
    outside = parse_reasoning(PROMPT, _answer(11.0, 12.0), 0.0, 10.0)
    assert outside.error_type == "bad_span" and "outside the video" in outside.error
    assert parse_reasoning(PROMPT, "when? later", 0.0, 10.0).error_type == "invalid_json"
    missing = parse_reasoning(PROMPT, json.dumps({"start": 1, "end": 2, "target": "x"}), 0.0, 10.0)
    assert missing.error_type == "schema_violation"


def test_one_request_per_query_over_the_whole_video() -> None:
    ident = GenerationIdentity(
        "m", "r", PROMPT.id, PROMPT.version, PROMPT.sha256, FrameSampler().spec(), SamplingConfig().model_dump()
    )
    planner = PLANNERS.get("temporal_reasoning")(ident, PlanSettings(n_images=PROMPT.n_images))
    queries = tuple(QueryInput(f"q{i}", t, sha256_text(t)) for i, t in enumerate(("the red circle", "what moves?")))
    plans = planner.plan(VideoInput("v", "v.mp4", 12.0, "h", queries))
    assert [p.query_id for p in plans] == ["q0", "q1"] and len({p.key for p in plans}) == 2
    assert all(len(p.frame_times) == 16 and (p.t_start, p.t_end) == (0.0, 12.0) for p in plans)
    assert plans[1].prompt_vars["query"] == "what moves?"
    PROMPT.render(**{k: v for k, v in plans[0].prompt_vars.items() if k in PROMPT.variables})
    assert planner.plan(VideoInput("v", "", 0.0, "", queries)) == []


@pytest.fixture(scope="module")
def stvg(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return generate_stvg_demo(tmp_path_factory.mktemp("stvg"), seed=0, n_videos=(4, 1, 1))


def test_shapes_narrator_finds_when_and_what(stvg: Path) -> None:
    ann = DATASETS.get("demo_stvg")(stvg)
    sampler, hits, n = FrameSampler(), 0, 0
    for q in ann.queries:
        video = ann.videos[q.video_id]
        times = [round(video.duration * (i + 0.5) / 16, 6) for i in range(16)]
        frames = sampler.sample(video.path, timestamps=times).frames
        request = GenerationRequest(
            key=q.query_id,
            prompt="",
            images=list(frames),
            prompt_id=PROMPT.id,
            variables={"timestamps": times, "duration": video.duration, "query": q.text},
        )
        answer = json.loads(reason_when_what(request, Noise.for_request(0.0, 0, q.query_id)))
        PROMPT.parse_output(json.dumps(answer))  # valid under the prompt's schema
        block = StvgQuery.from_extra(q.extra)
        gt = (block.seconds(block.gt_sted[0]), block.seconds(block.gt_sted[1]))
        n += 1
        hits += min(gt[1], answer["end"]) - max(gt[0], answer["start"]) > 0
        assert answer["target"].startswith(("the ", "a ")) and answer["reasoning"]
    assert n >= 10 and hits / n >= 0.7, (hits, n)
