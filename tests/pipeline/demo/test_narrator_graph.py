"""``--backend shapes`` through the real graph (local Ray, 2 demo videos, every prior kind): the
same plan, cache keys, rows and manifest as any backend, ``backend == "shapes"`` in every row,
answers that describe the videos, and a warm rerun with zero model calls. Plus the checks
``prepare`` makes before any Ray starts: no model folder needed, noise in the keys, real
datasets refused."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from groundwork.cache.store import CacheStore
from groundwork.errors import InputError
from pipeline.demo.narrator import ShapesNarrator
from pipeline.graph import run_priors
from pipeline.prepare import prepare
from pipeline.prompts import load_prompt
from tests.pipeline.priors_fixtures import demo_dir, priors_config  # noqa: F401

KINDS = ["narrative", "clip_caption", "event", "query_rewrite", "query_caption"]


def _config(demo: Path, tmp_path: Path, **overrides):  # noqa: ANN202
    return priors_config(
        demo, "shapes", tmp_path / "cache", tmp_path / "m.parquet", backend="shapes", kinds=KINDS, **overrides
    )


def test_prepare_needs_no_model_folder_and_keys_carry_the_noise(demo_dir: Path, tmp_path: Path) -> None:  # noqa: F811
    clean = prepare(_config(demo_dir, tmp_path))
    noisy = prepare(_config(demo_dir, tmp_path, backend_options={"noise": 0.1, "seed": 4}))
    assert clean.identities["narrative"].model_revision == ShapesNarrator.key_revision("shapes", {})
    assert noisy.identities["narrative"].model_revision.endswith("noise=0.1:seed=4")
    assert clean.identities["narrative"] != noisy.identities["narrative"]
    with pytest.raises(InputError, match="unknown option"):
        prepare(_config(demo_dir, tmp_path, backend_options={"nosie": 0.1}))


def test_prepare_refuses_a_real_dataset(tmp_path: Path) -> None:
    config = _config(tmp_path, tmp_path)
    with pytest.raises(InputError, match="only works on the generated demo videos"):
        prepare(config.model_copy(update={"dataset": "charades_sta"}))


@pytest.mark.slow
def test_graph_writes_shapes_rows_and_reruns_warm(demo_dir: Path, tmp_path: Path) -> None:  # noqa: F811
    config = _config(demo_dir, tmp_path, limit=2)
    report = run_priors(config)
    assert report.videos == 2 and report.errors == {} and report.model_calls == report.requests > 0

    store = CacheStore(tmp_path / "cache")
    rows = {kind: store.priors(kind).to_pylist() for kind in KINDS}
    revision = ShapesNarrator.key_revision("shapes", {})
    for kind, kind_rows in rows.items():
        assert kind_rows, kind
        assert {r["backend"] for r in kind_rows} == {"shapes"}, kind
        assert {r["status"] for r in kind_rows} == {"ok"}, kind
        assert {(r["model"], r["model_revision"]) for r in kind_rows} == {("shapes", revision)}, kind
    assert all(", on a dark background. " in r["text"] or "No shapes" in r["text"] for r in rows["narrative"])
    assert all(r["text"].startswith(("In the clip", "The clip")) for r in rows["clip_caption"])

    manifest = pq.read_table(tmp_path / "m.parquet").to_pylist()
    assert len({r["video_id"] for r in manifest}) == 2
    texts = {kind: {r["key"]: r["text"] for r in kind_rows} for kind, kind_rows in rows.items()}
    for row in manifest:
        for kind in KINDS:
            keys = row[f"{kind}_keys"]
            assert keys and all(texts[kind].get(k) for k in keys), (kind, row["query"])
        assert len(row["query_rewrite_keys"]) == 3
        original = texts["query_rewrite"][row["query_rewrite_keys"][1]]
        assert original.startswith(("the ", "a ")), original
    event_texts = [texts["event"][k] for row in manifest for k in row["event_keys"]]
    load_prompt("describe_events").parse_output(
        json.dumps([{"start": 0, "end": 1, "description": t} for t in event_texts])
    )

    again = run_priors(config)
    assert (again.model_calls, again.rows_written, again.cache_hits) == (0, 0, again.requests)
    assert pq.read_table(tmp_path / "m.parquet").to_pylist() == manifest
