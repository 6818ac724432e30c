"""Valid structured answers through the real graph: ``run_priors`` on local Ray with 2 demo
videos, kinds event and query_rewrite, answered by ``FakeScriptedJSONBackend`` (registered here
under a fake name; the generate actor loads it by name like any backend). Checks the clipped
event rows, the retry after a bad span, the report's counts, the manifest's item keys, the text
features of the item texts, and a warm rerun with zero model calls."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from groundwork.cache.hashing import sha256_text
from groundwork.cache.store import CacheStore
from pipeline.backends.base import BACKENDS
from pipeline.datasets import DATASETS
from pipeline.features.text import get_text_encoder
from pipeline.graph import run_priors
from tests.pipeline.fake_backends import FakeScriptedJSONBackend, scripted_events, scripted_rewrites
from tests.pipeline.priors_fixtures import demo_dir, priors_config  # noqa: F401

FAKE = "fake-scripted-json"
if FAKE not in BACKENDS:
    BACKENDS.register(FAKE)(FakeScriptedJSONBackend)


@pytest.mark.slow
def test_valid_events_and_rewrites_reach_cache_manifest_and_features(demo_dir: Path, tmp_path: Path) -> None:  # noqa: F811
    model = tmp_path / "fake-model"  # keys need a model revision: a folder with a config.json
    model.mkdir()
    (model / "config.json").write_text(json.dumps({"model_type": FAKE}))
    config = priors_config(
        demo_dir,
        model,
        tmp_path / "cache",
        tmp_path / "m.parquet",
        limit=2,
        backend=FAKE,
        kinds=["event", "query_rewrite"],
    )
    report = run_priors(config)

    store = CacheStore(tmp_path / "cache")
    manifest = pq.read_table(tmp_path / "m.parquet").to_pylist()
    durations = {v.video_id: v.duration for v in DATASETS.get("demo")(demo_dir).videos.values()}
    videos = {r["video_id"] for r in manifest}
    assert len(videos) == 2
    n_queries = len(manifest)
    assert report.model_calls == 2 + n_queries and report.errors == {}
    assert report.retries == 2 and report.invalid_answers == {"bad_span": 2}  # one re-ask per video
    assert (report.events_parsed, report.events_clipped, report.events_dropped) == (4, 2, 0)
    assert report.items_by_kind == {"event": 4, "query_rewrite": 3 * n_queries}

    events = {r["key"]: r for r in store.priors("event").to_pylist()}
    rewrites = {r["key"]: r for r in store.priors("query_rewrite").to_pylist()}
    for row in manifest:
        vid, duration = row["video_id"], durations[row["video_id"]]
        got = [events[k] for k in row["event_keys"]]
        assert all(
            e["status"] == "ok" and e["video_id"] == vid and 0.0 <= e["t_start"] < e["t_end"] <= duration for e in got
        )
        assert [(e["t_start"], e["t_end"], e["text"]) for e in got] == [
            (s["start"], min(s["end"], duration), s["description"]) for s in scripted_events(duration, False)
        ]
        assert got[-1]["t_end"] == duration  # the span past the end, clipped
        assert "sampling" in got[0] and json.loads(got[0]["sampling"])["temperature"] > 0  # answered on the re-ask
        texts = [rewrites[k]["text"] for k in row["query_rewrite_keys"]]
        assert texts == list(scripted_rewrites(row["query"]).values())  # coarse, original, fine
        assert {rewrites[k]["status"] for k in row["query_rewrite_keys"]} == {"ok"}
        assert {rewrites[k]["query_id"] for k in row["query_rewrite_keys"]} == {row["query_id"]}

    item_texts = {events[k]["text"] for r in manifest for k in r["event_keys"]}
    item_texts |= {rewrites[k]["text"] for r in manifest for k in r["query_rewrite_keys"]}
    have = store.text_hashes(get_text_encoder(config.text_encoder).name)
    assert {sha256_text(t) for t in item_texts} <= have

    again = run_priors(config)
    assert (again.model_calls, again.rows_written, again.cache_hits) == (0, 0, again.requests)
    assert pq.read_table(tmp_path / "m.parquet").to_pylist() == manifest
