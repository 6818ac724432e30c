"""``priors run`` on an STVG dataset through the real graph (local Ray, the generated
spatio-temporal demo, the shapes narrator, a tiny random CLIP with a 7 x 7 patch grid): per-frame
patch grids on the evaluation grid (shape, dtype, frame ids), the manifest names the patch set,
the tube table holds the GT boxes, the temporal-reasoning prior is cached per query, and a warm
rerun makes no model call and encodes no video."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest

from groundwork.cache.manifest import read_manifest
from groundwork.cache.store import CacheStore
from groundwork.stvg import StvgQuery, tubes_path
from pipeline.backends.base import SamplingConfig
from pipeline.config import PriorsConfig
from pipeline.datasets import DATASETS
from pipeline.demo.stvg import generate_stvg_demo
from pipeline.graph import run_priors
from pipeline.stvg import frame_ids_by_video


@pytest.fixture(scope="module")
def stvg_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return generate_stvg_demo(tmp_path_factory.mktemp("demo_stvg"), seed=0, n_videos=(2, 1, 1))


@pytest.fixture(scope="module")
def clip112(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from pipeline.demo.tiny_models import build_tiny_clip_vision

    return build_tiny_clip_vision(tmp_path_factory.mktemp("models") / "tiny-clip-112", seed=0, image_size=112)


@pytest.mark.slow
def test_patch_grids_tubes_and_reasoning_through_the_graph(stvg_dir: Path, clip112: Path, tmp_path: Path) -> None:
    config = PriorsConfig(
        dataset="demo_stvg",
        annotations=stvg_dir,
        cache=tmp_path / "cache",
        manifest=tmp_path / "m.parquet",
        model="shapes",
        backend="shapes",
        kinds=["temporal_reasoning"],
        visual_encoder=str(clip112),
        limit=3,
        num_cpus=2,
        progress=False,
        sampling=SamplingConfig(max_new_tokens=8),
        write_batch_size=4,
    )
    report = run_priors(config)
    assert report.errors == {} and report.patch_videos == 3 and report.visual_videos == 3
    info = read_manifest(tmp_path / "m.parquet")
    assert info.patch_features.startswith("tiny-clip-112-patch7-")
    ann = DATASETS.get("demo_stvg")(stvg_dir)
    wanted = frame_ids_by_video(ann)
    folder = CacheStore(info.cache_dir).visual_dir(info.patch_features)
    videos = sorted({r["video_id"] for r in info.rows})
    assert len(videos) == 3
    for vid in videos:
        with np.load(folder / f"{vid}.npz") as data:
            patches, fids = data["patches"], data["frame_ids"]
        assert patches.dtype == np.float16 and patches.shape == (len(fids), 7, 7, 64)
        assert fids.tolist() == wanted[vid][0]  # the union of its queries' 5 fps grids
        assert np.isfinite(patches.astype(np.float32)).all() and patches.astype(np.float32).std() > 0

    tubes = pq.read_table(tubes_path(tmp_path / "m.parquet")).to_pylist()
    by_key = {(t["video_id"], t["target_id"], t["fid"]): (t["x1"], t["y1"], t["x2"], t["y2"]) for t in tubes}
    rows = info.rows
    store = CacheStore(info.cache_dir)
    reasoning = {r["key"]: r for r in store.priors("temporal_reasoning").to_pylist()}
    for row in rows:
        block = StvgQuery.from_extra(json.loads(row["extra"]))
        for f in block.gt_frames():
            assert by_key[(row["video_id"], block.target_id, f)] == pytest.approx(
                ann.tubes[(row["video_id"], block.target_id)][f]
            )
        keys = row["temporal_reasoning_keys"]
        assert len(keys) == 2, row["query"]  # [reasoning, target]
        text, target = reasoning[keys[0]], reasoning[keys[1]]
        assert text["status"] == target["status"] == "ok"
        assert 0 <= text["t_start"] < text["t_end"] <= row["duration"] + 1e-6
        assert (text["t_start"], text["t_end"]) == (target["t_start"], target["t_end"])
        assert target["text"].startswith(("the ", "a "))

    again = run_priors(config)
    assert (again.model_calls, again.patch_videos, again.visual_videos) == (0, 0, 0)
    assert read_manifest(tmp_path / "m.parquet").patch_features == info.patch_features
