from __future__ import annotations

import json

import pytest

from groundwork.cache.keys import GenerationIdentity
from pipeline.frames import time_grid
from pipeline.kinds import PLANNERS, PlanSettings
from pipeline.kinds.base import frames_in_window
from pipeline.stages.plan import PlanStage

IDENT = GenerationIdentity("m", "r", "p", 1, "s" * 64, {}, {})


def _planners(**settings):
    s = PlanSettings(**settings)
    return {kind: PLANNERS.get(kind)(IDENT, s) for kind in ("narrative", "clip_caption")}


def _videos(*durations: float) -> dict:
    n = len(durations)
    return {
        "video_id": [f"v{i}" for i in range(n)],
        "path": [f"/x/v{i}.mp4" for i in range(n)],
        "duration": list(durations),
        "video_sha256": [f"{i}" * 64 for i in range(n)],
        "queries": ["[]"] * n,
    }


def test_time_grid_and_windows() -> None:
    assert time_grid(3.0, 1.0) == [0.0, 1.0, 2.0]
    assert time_grid(3.2, 1.0) == [0.0, 1.0, 2.0, 3.0]
    assert time_grid(0.0, 1.0) == []
    assert frames_in_window(2.0, 4.0, 1) == [3.0]
    assert frames_in_window(0.0, 3.0, 3) == [0.5, 1.5, 2.5]


def test_plan_expands_each_kind() -> None:
    out = PlanStage(_planners(interval=1.0, clip_len=2.0), cached={}).process_batch(_videos(5.0))
    reqs = json.loads(out["requests"][0])
    narr = [r for r in reqs if r["kind"] == "narrative"]
    clips = [r for r in reqs if r["kind"] == "clip_caption"]
    assert [r["t_start"] for r in narr] == [0.0, 1.0, 2.0, 3.0, 4.0]
    assert [(r["t_start"], r["t_end"], r["frame_times"]) for r in clips] == [
        (0.0, 2.0, [1.0]),
        (2.0, 4.0, [3.0]),
        (4.0, 5.0, [4.5]),
    ]
    assert clips[0]["prompt_vars"]["clip_start"] == 0.0 and clips[0]["prompt_vars"]["clip_end"] == 2.0
    assert out["n_planned"] == [8] and out["n_cached"] == [0]
    assert len({r["key"] for r in reqs}) == 8


def test_plan_drops_cached_keys_but_lists_them_as_planned() -> None:
    planners = _planners(interval=1.0, clip_len=2.0)
    first = PlanStage(planners, cached={}).process_batch(_videos(4.0, 2.0))
    all_keys = [r["key"] for r in json.loads(first["requests"][0])]
    cached = {"narrative": set(all_keys[:2])}
    second = PlanStage(planners, cached=cached).process_batch(_videos(4.0, 2.0))
    left = {r["key"] for r in json.loads(second["requests"][0])}
    assert left == set(all_keys[2:])
    assert second["n_cached"] == [2, 0]
    planned = json.loads(second["planned"][0])
    assert [k for k, _ in planned["narrative"]] == all_keys[:4]  # planned keeps the cached ones, in time order
    assert all(qid == "" for _, qid in planned["narrative"])


def test_unknown_kind_names_the_registry() -> None:
    with pytest.raises(ValueError, match="unknown prior kind 'narative'; did you mean 'narrative'"):
        PLANNERS.get("narative")


def test_plan_index_answers_fully_cached_videos_without_planning(tmp_path) -> None:
    from pipeline.cache.plan_index import read_plan_index, write_plan_index

    planners = _planners(interval=1.0, clip_len=2.0)
    cold = PlanStage(planners, cached={}).process_batch(_videos(4.0, 3.0))
    new = {fp: e for n in cold["index_new"] for fp, e in json.loads(n).items()}
    assert len(new) == 4  # 2 videos x 2 kinds
    write_plan_index(tmp_path, new)
    index = read_plan_index(tmp_path)
    every = {kind: {k for p in cold["planned"] for k, _ in json.loads(p)[kind]} for kind in planners}

    class PlannerThatMustNotPlan:
        """Fake planner: same fingerprints, but planning again would fail the test."""

        def __init__(self, real):
            self.real, self.kind = real, real.kind

        def scoped(self, video):
            return self.real.scoped(video)

        def fingerprint(self, video):
            return self.real.fingerprint(video)

        def plan(self, video):  # pragma: no cover - failing is the point
            raise AssertionError("planned although the index knew every key")

    warm = PlanStage({k: PlannerThatMustNotPlan(p) for k, p in planners.items()}, every, index).process_batch(
        _videos(4.0, 3.0)
    )
    assert warm["planned"] == cold["planned"] and warm["n_cached"] == cold["n_planned"]
    assert all(json.loads(n) == {} for n in warm["index_new"])

    one_missing = {**every, "narrative": every["narrative"] - {json.loads(cold["planned"][0])["narrative"][0][0]}}
    partly = PlanStage(planners, one_missing, index).process_batch(_videos(4.0, 3.0))
    assert [len(json.loads(r)) for r in partly["requests"]] == [1, 0]


def test_fingerprint_follows_what_the_plan_depends_on() -> None:
    from pipeline.kinds.base import VideoInput

    planner = _planners(interval=1.0)["narrative"]
    video = VideoInput("v", "/x.mp4", 4.0, "a" * 64)
    assert planner.fingerprint(video) == planner.fingerprint(VideoInput("v", "/x.mp4", 4.0, "a" * 64))
    assert planner.fingerprint(video) != planner.fingerprint(VideoInput("v", "/x.mp4", 5.0, "a" * 64))
    assert planner.fingerprint(video) != _planners(interval=2.0)["narrative"].fingerprint(video)
    assert planner.fingerprint(video) != _planners(interval=1.0)["clip_caption"].fingerprint(video)


def _with_queries(batch: dict, queries: list[list[str]]) -> dict:
    """``batch`` whose video i holds the queries ``queries[i]`` (ids; the text is the id)."""
    from groundwork.cache.hashing import sha256_text

    rows = [json.dumps([{"query_id": q, "text": q, "text_sha256": sha256_text(q)} for q in qs]) for qs in queries]
    return {**batch, "queries": rows}


def test_a_kind_limited_to_splits_plans_only_their_videos_and_queries() -> None:
    planners = {k: PLANNERS.get(k)(IDENT, PlanSettings()) for k in ("narrative", "query_rewrite_pairs")}
    planners["query_rewrite_pairs"].limit_to(["test"], ["t1", "t2"])
    batch = _with_queries(_videos(3.0, 3.0), [["a1", "a2"], ["t1", "x9"]])  # v0: train only; v1: one test query
    out = PlanStage(planners, cached={}).process_batch(batch)
    planned = [json.loads(p) for p in out["planned"]]
    assert planned[0]["query_rewrite_pairs"] == []  # no query of v0 is in the kind's splits
    assert {q for _, q in planned[1]["query_rewrite_pairs"]} == {"t1"}  # x9 is outside them
    assert [len(p["narrative"]) for p in planned] == [3, 3]  # unlimited kinds plan as before
    assert out["n_planned"] == [3, 3 + len(planned[1]["query_rewrite_pairs"])]
    unlimited = PlanStage({"query_rewrite_pairs": PLANNERS.get("query_rewrite_pairs")(IDENT, PlanSettings())}, {})
    every = json.loads(unlimited.process_batch(batch)["planned"][1])["query_rewrite_pairs"]
    assert [k for k, q in every if q == "t1"] == [k for k, _ in planned[1]["query_rewrite_pairs"]]  # same keys


def test_a_kind_may_not_read_one_made_for_fewer_splits() -> None:
    from groundwork.errors import InputError
    from pipeline.kinds.context import planning_rounds

    s = PlanSettings(key_frame_source="narrative")
    planners = {k: PLANNERS.get(k)(IDENT, s) for k in ("narrative", "key_frame")}
    planners["narrative"].limit_to(["val", "test"], ["q"])
    with pytest.raises(InputError, match=r"'key_frame' reads 'narrative', which is made only for val, test"):
        planning_rounds(planners)
    planners["key_frame"].limit_to(["test"], ["q"])  # within its source's splits: fine
    assert planning_rounds(planners) == [["narrative"], ["key_frame"]]
