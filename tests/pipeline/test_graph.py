"""The real stage graph on a local Ray instance: 3 generated demo videos, the tiny random LLaVA
through the transformers backend, MiniLM text features, a tiny CLIP vision tower."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest

from groundwork.cache.keys import VideoHashes
from groundwork.cache.store import CacheStore
from pipeline.commands.errors import failed_rows
from pipeline.frames import time_grid
from pipeline.graph import run_priors
from tests.pipeline.priors_fixtures import demo_dir, priors_config, tiny_clip, tiny_llava  # noqa: F401

pytestmark = pytest.mark.slow


def _durations(demo: Path) -> dict[str, float]:
    from pipeline.datasets import DATASETS

    return {v.video_id: v.duration for v in DATASETS.get("demo")(demo).videos.values()}


def test_full_run_then_warm_rerun_makes_zero_model_calls(
    demo_dir: Path,
    tiny_llava: Path,
    tiny_clip: Path,  # noqa: F811
    tmp_path: Path,
) -> None:
    config = priors_config(
        demo_dir, tiny_llava, tmp_path / "cache", tmp_path / "demo.parquet", visual_encoder=str(tiny_clip)
    )
    report = run_priors(config)
    durations = _durations(demo_dir)
    n_narr = sum(len(time_grid(d, 6.0)) for d in durations.values())
    n_clip = sum(len(time_grid(d, 10.0)) for d in durations.values())
    assert (report.videos, report.requests, report.model_calls) == (3, n_narr + n_clip, n_narr + n_clip)
    assert report.errors == {} and report.cache_hits == 0 and report.tokens_out > 0
    assert {"decode", "render", "generate", "embed", "write", "visual"} <= set(report.stage_seconds)

    store = CacheStore(tmp_path / "cache")
    narr, clips = store.priors("narrative"), store.priors("clip_caption")
    assert narr.num_rows == n_narr and clips.num_rows == n_clip
    assert set(narr.column("status").to_pylist()) == {"ok"}
    assert set(narr.column("prompt_id").to_pylist()) == {"narrate_frame"}

    manifest = pq.read_table(tmp_path / "demo.parquet")
    rows = manifest.to_pylist()
    assert len(rows) == sum(1 for s in ("train", "val", "test") for _ in open(demo_dir / f"{s}.jsonl"))
    for row in rows:
        assert len(row["narrative_keys"]) == len(time_grid(row["duration"], 6.0))
        assert set(row["narrative_keys"]) <= set(narr.column("key").to_pylist())
    texts = store.text_hashes("all-MiniLM-L6-v2")
    needed = {r["query_sha256"] for r in rows} | set(narr.column("text_sha256").to_pylist())
    assert needed <= texts
    meta = manifest.schema.metadata
    visual_dir = store.visual_dir(meta[b"visual_features"].decode())  # a name under <cache>/visual
    assert visual_dir.is_dir() and not Path(meta[b"visual_features"].decode()).is_absolute()
    for vid, duration in durations.items():
        with np.load(visual_dir / f"{vid}.npz") as npz:
            assert npz["features"].shape[0] == len(time_grid(duration, 1.0))
    assert meta[b"dataset"] == b"demo" and meta[b"text_encoder"] == b"all-MiniLM-L6-v2"

    again = run_priors(config)
    assert (again.model_calls, again.cache_hits, again.rows_written) == (0, n_narr + n_clip, 0)
    assert again.visual_videos == 0 and again.texts_embedded == 0
    assert pq.read_table(tmp_path / "demo.parquet").equals(manifest)  # metadata (created_at) aside


def test_bad_video_is_an_error_row_skipped_on_rerun_and_redone_with_retry_errors(
    demo_dir: Path, tiny_llava: Path, tmp_path: Path
) -> None:  # noqa: F811
    demo = tmp_path / "demo"
    shutil.copytree(demo_dir, demo)
    bad = sorted((demo / "videos").glob("*.mp4"))[0]
    cache = tmp_path / "cache"
    hashes = VideoHashes(cache / "video_hashes.json")  # the memo knows the good file's hash ...
    hashes(bad)
    hashes.save()
    good_bytes, stat = bad.read_bytes(), bad.stat()
    bad.write_bytes(b"\0" * len(good_bytes))  # ... while a flaky read serves zeros of the same size
    os.utime(bad, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    config = priors_config(demo, tiny_llava, cache, tmp_path / "m.parquet", kinds=["narrative"])

    first = run_priors(config)
    n_bad = len(time_grid(_durations(demo)[bad.stem], 6.0))
    assert sum(first.errors.values()) == n_bad and first.errors_by_kind == {"narrative": n_bad}
    failed = failed_rows(CacheStore(cache), ("narrative",))
    assert {r["video_id"] for r in failed} == {bad.stem} and len(failed) == n_bad
    assert all(bad.name in r["error"] for r in failed)
    manifest = pq.read_table(tmp_path / "m.parquet").to_pylist()
    assert all(r["narrative_keys"] == [] for r in manifest if r["video_id"] == bad.stem)

    skipped = run_priors(config)  # errors are cached: not retried by default
    assert skipped.model_calls == 0 and skipped.cache_hits == skipped.requests

    bad.write_bytes(good_bytes)
    os.utime(bad, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    retried = run_priors(config.model_copy(update={"retry_errors": True}))
    assert retried.model_calls == n_bad and retried.errors == {}
    assert failed_rows(CacheStore(cache), ("narrative",)) == []
    rows = CacheStore(cache).priors("narrative")
    assert set(rows.column("status").to_pylist()) == {"ok"} and rows.num_rows == first.requests
    manifest = pq.read_table(tmp_path / "m.parquet").to_pylist()
    assert all(len(r["narrative_keys"]) == len(time_grid(r["duration"], 6.0)) for r in manifest)


def test_a_graph_that_would_wait_forever_is_refused_before_any_work(demo_dir: Path, tmp_path: Path) -> None:  # noqa: F811
    """Three generate actors of 1 CPU on a 2-CPU instance: Ray Data would start what fits and wait
    forever for the rest; the run stops with a user error instead, holding no claims and having
    written no rows."""
    from groundwork.errors import InputError

    config = priors_config(
        demo_dir, "shapes", tmp_path / "cache", tmp_path / "m.parquet", backend="shapes", kinds=["narrative"],
        limit=1, generate_concurrency=3,
    )  # fmt: skip
    with pytest.raises(InputError, match=r"needs 4 CPUs at once but the Ray instance has \d.*--generate-concurrency"):
        run_priors(config)
    claims = tmp_path / "cache" / "claims"
    assert not claims.exists() or not [p for p in claims.rglob("*.json")]
    assert CacheStore(tmp_path / "cache").priors("narrative").num_rows == 0
