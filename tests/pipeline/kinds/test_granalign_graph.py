"""GranAlign's priors through the real graph (local Ray, 2 demo videos, three planning rounds:
query-agnostic captions and rewrite pairs, key frames, their query-aware captions), answered by
the demo's pixel-reading narrator (key frames among GranAlign's own frame captions) and by a
scripted fake backend (key frames among the narratives): rows, keys and provenance in the cache,
the manifest's per-query keys, the report's counts per split, and a warm rerun with zero model
calls and nothing written."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest

from groundwork.cache.store import CacheStore
from pipeline.backends.base import (
    BACKENDS,
    Backend,
    GenerationRequest,
    GenerationResult,
    SamplingConfig,
)
from pipeline.features.frame_selection import key_frame_count
from pipeline.graph import run_priors
from pipeline.kinds.base import PlanSettings
from tests.pipeline.priors_fixtures import demo_dir, priors_config  # noqa: F401

KINDS = ["narrative", "query_rewrite_pairs", "key_frame", "key_frame_caption"]
FAKE = "fake-granalign"


class FakeGranAlignBackend(Backend):
    """Fake: a scripted stand-in for an LLM + VLM, for checking what reaches the prompts. Rewrite
    pairs: ``simple i: <query>`` / ``detail i: <query>``, entity = the query's first two words,
    action = the rest. A key-frame caption echoes the entities and actions of its prompt. Any
    other prompt: a caption naming the frame time."""

    name = FAKE

    def run(
        self, requests: list[GenerationRequest], prepared: list[Any], sampling: SamplingConfig
    ) -> list[GenerationResult]:
        return [GenerationResult(r.key, self._answer(r), n_output_tokens=1) for r in requests]

    @staticmethod
    def _answer(request: GenerationRequest) -> str:
        v = request.variables
        if request.prompt_id == "rewrite_query_pairs":
            words = str(v["query"]).split()
            pairs = [
                {"simplified": f"simple {i}: {v['query']}", "detailed": f"detail {i}: {v['query']}"} for i in range(3)
            ]
            return json.dumps({"pairs": pairs, "entities": [" ".join(words[:2])], "actions": [" ".join(words[2:])]})
        if request.prompt_id == "caption_key_frame":
            return f"looked for {v['entities']} doing {v['actions']} at {v['timestamp']} s"
        return f"a frame at {v.get('timestamp', v.get('t'))} s"


if FAKE not in BACKENDS:
    BACKENDS.register(FAKE)(FakeGranAlignBackend)


def _run(demo: Path, tmp_path: Path, backend: str, kinds: list[str]) -> tuple[Any, list[dict], CacheStore, Any]:
    model = "shapes"
    if backend == FAKE:  # keys need a model revision: a folder with a config.json
        folder = tmp_path / "fake-model"
        folder.mkdir()
        (folder / "config.json").write_text(json.dumps({"model_type": FAKE}))
        model = str(folder)
    config = priors_config(
        demo, model, tmp_path / "cache", tmp_path / "m.parquet", backend=backend, kinds=kinds, limit=2
    )
    report = run_priors(config)
    return config, pq.read_table(tmp_path / "m.parquet").to_pylist(), CacheStore(tmp_path / "cache"), report


def _rows(store: CacheStore, kinds: list[str]) -> dict[str, dict[str, dict]]:
    return {kind: {r["key"]: r for r in store.priors(kind).to_pylist()} for kind in kinds}


@pytest.mark.slow
def test_shapes_narrator_rounds_cache_manifest_report_and_warm_rerun(
    demo_dir: Path,  # noqa: F811
    tmp_path: Path,
) -> None:
    kinds = ["frame_caption", *KINDS]
    config, manifest, store, report = _run(demo_dir, tmp_path, "shapes", kinds)
    rows = _rows(store, kinds)
    assert report.errors == {} and len({r["video_id"] for r in manifest}) == 2
    n_frames = {r["video_id"]: len(r["frame_caption_keys"]) for r in manifest}
    assert n_frames == {r["video_id"]: len(r["narrative_keys"]) for r in manifest}  # the same frames
    selected = {r["query_id"]: key_frame_count(n_frames[r["video_id"]], PlanSettings()) for r in manifest}
    assert report.computed_rows == {"key_frame": sum(selected.values())}
    # frame captions + narratives + rewrites + key-frame captions: no model call for a key frame
    assert report.model_calls == 2 * sum(n_frames.values()) + len(manifest) + sum(selected.values())

    for row in manifest:
        rewrites = [rows["query_rewrite_pairs"][k] for k in row["query_rewrite_pairs_keys"]]
        assert len(rewrites) == 6 and {r["query_id"] for r in rewrites} == {row["query_id"]}
        frames = [rows["key_frame"][k] for k in row["key_frame_keys"]]
        assert len(frames) == selected[row["query_id"]] and {r["query_id"] for r in frames} == {row["query_id"]}
        assert {(r["model"], r["backend"]) for r in frames} == {("caption-similarity", "computed")}
        agnostic = {
            rows["frame_caption"][k]["t_start"]: rows["frame_caption"][k]["text"] for k in row["frame_caption_keys"]
        }  # the key frames' source when the run makes them
        assert all(
            t.endswith(".") and ("still" in t or "moving" in t or "changing" in t or "appearing" in t or "Nothing" in t)
            for t in agnostic.values()
        )
        for frame in frames:
            detail = json.loads(frame["raw"])
            assert detail["method"] == "caption-similarity" and detail["selected"] == len(frames)
            assert frame["text"] == agnostic[frame["t_start"]] and frame["t_start"] == frame["t_end"]
        captions = [rows["key_frame_caption"][k] for k in row["key_frame_caption_keys"]]
        assert sorted(c["t_start"] for c in captions) == sorted(f["t_start"] for f in frames)
        assert {c["prompt_id"] for c in captions} == {"caption_key_frame"} and {c["backend"] for c in captions} == {
            "shapes"
        }
        assert all(" is visible " in c["text"] or c["text"].startswith(("No ", "The frame shows")) for c in captions)
    splits = {r["split"] for r in manifest}
    for split in splits:
        of_split = [r for r in manifest if r["split"] == split]
        assert report.rows_by_split[split]["key_frame"] == sum(len(r["key_frame_keys"]) for r in of_split)
        assert report.rows_by_split[split]["query_rewrite_pairs"] == 6 * len(of_split)
        captions = sum(len(r["key_frame_caption_keys"]) for r in of_split)
        assert report.rows_by_split[split]["key_frame_caption"] == captions

    again = run_priors(config)
    assert (again.model_calls, again.rows_written, again.computed_rows) == (0, 0, {})
    assert again.cache_hits == again.requests
    assert pq.read_table(tmp_path / "m.parquet").to_pylist() == manifest


@pytest.mark.slow
def test_entities_and_actions_reach_the_key_frame_prompts(demo_dir: Path, tmp_path: Path) -> None:  # noqa: F811
    _, manifest, store, report = _run(demo_dir, tmp_path, FAKE, KINDS)
    rows = _rows(store, KINDS)
    assert report.errors == {} and report.invalid_answers == {}
    for row in manifest:
        texts = [rows["query_rewrite_pairs"][k]["text"] for k in row["query_rewrite_pairs_keys"]]
        assert texts == [f"{role} {i}: {row['query']}" for i in range(3) for role in ("simple", "detail")]
        words = row["query"].split()
        captions = [rows["key_frame_caption"][k] for k in row["key_frame_caption_keys"]]
        assert captions and len(captions) == len(row["key_frame_keys"])
        narratives = {rows["narrative"][k]["text"] for k in row["narrative_keys"]}
        assert {rows["key_frame"][k]["text"] for k in row["key_frame_keys"]} <= narratives  # no frame captions here
        for caption in captions:
            assert caption["text"] == (
                f"looked for {' '.join(words[:2])} doing {' '.join(words[2:])} at {caption['t_start']} s"
            )


@pytest.mark.slow
def test_kinds_limited_to_the_scored_splits_skip_the_others_and_widen_later(
    demo_dir: Path,  # noqa: F811
    tmp_path: Path,
) -> None:
    """GranAlign trains nothing: its priors made only for val and test (``kind_splits``) leave the
    train video without any, its manifest rows list none, and a later run for every split makes
    only what is missing."""
    limited = dict.fromkeys(["frame_caption", *KINDS[1:]], ["val", "test"])
    kinds = ["frame_caption", *KINDS]
    run = priors_config(demo_dir, "shapes", tmp_path / "cache", tmp_path / "m.parquet", backend="shapes", kinds=kinds)
    report = run_priors(run.model_copy(update={"kind_splits": limited}))
    manifest = pq.read_table(tmp_path / "m.parquet").to_pylist()
    assert report.errors == {} and {r["split"] for r in manifest} == {"train", "val", "test"}
    for row in manifest:
        assert row["narrative_keys"]  # not limited
        for kind in limited:
            assert bool(row[f"{kind}_keys"]) == (row["split"] != "train"), (kind, row["split"])
    assert {k for k, n in report.rows_by_split["train"].items() if n} == {"narrative"}
    assert report.kind_splits == limited and "key_frame            val,test" in report.table()  # the run says so
    train_video = {r["video_id"] for r in manifest if r["split"] == "train"}
    store = CacheStore(tmp_path / "cache")
    assert all(train_video.isdisjoint(store.priors(kind).column("video_id").to_pylist()) for kind in limited)

    every = run_priors(run)  # the same kinds for every split: only the train video's are new
    assert every.model_calls > 0 and {k for k, n in every.rows_by_split["train"].items() if n} == {
        "narrative",
        *limited,
    }
    assert every.cache_hits == report.requests < every.requests  # what the first run made is reused
    again = run_priors(run)
    assert (again.model_calls, again.rows_written) == (0, 0)
