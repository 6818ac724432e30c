"""``priors run --cache s3://...``: a run whose cache is on an object store (moto's S3 server on
localhost, ``tests.s3_server``; pyarrow's real S3 client) writes the same prior rows, text
features, visual features and manifest as a run on a local cache, reruns warm with no model
call, and the grounding side builds the same training items from its manifest. Real runs in
subprocesses (each its own local Ray) given the store's credentials in their environment."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest

from grounding.data.dataset import GroundingDataset, open_video_store
from groundwork.cache.fs import StorePath
from groundwork.cache.manifest import read_manifest
from groundwork.cache.store import CacheStore
from tests.pipeline.priors_fixtures import demo_dir, priors_config, tiny_clip  # noqa: F401 - fixtures
from tests.pipeline.subprocess_runs import run
from tests.s3_server import S3_ENV, s3_endpoint, s3_uri  # noqa: F401 - fixtures

pytestmark = pytest.mark.slow
KINDS = ["narrative", "clip_caption", "event"]
FIELDS = ["video", "query_tokens", "narratives", "clip_captions", "events"]  # read from the cache
VOLATILE = ("created_at", "latency_ms")  # when and how fast: differ between any two runs


def _run(demo: Path, clip: Path, cache: str | Path, manifest: Path) -> dict:
    config = priors_config(
        demo, "shapes", cache, manifest, backend="shapes", kinds=KINDS, limit=1, visual_encoder=str(clip)
    )
    done = run(config.model_dump_json(), env=S3_ENV)
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(manifest.with_suffix(".report.json").read_text())


def _rows(store: CacheStore, kind: str) -> list[dict]:
    table = store.priors(kind).sort_by("key")
    return table.drop_columns(list(VOLATILE)).to_pylist()


def test_a_run_on_s3_equals_a_local_run_and_grounding_reads_it(
    demo_dir: Path,  # noqa: F811
    tiny_clip: Path,  # noqa: F811
    tmp_path: Path,
    s3_uri,  # noqa: ANN001, F811
) -> None:
    uri = s3_uri("team/cache")
    first = _run(demo_dir, tiny_clip, uri, tmp_path / "s3.parquet")
    local = _run(demo_dir, tiny_clip, tmp_path / "cache", tmp_path / "local.parquet")
    assert first["model_calls"] == local["model_calls"] > 0 and first["errors"] == {}

    remote, here = CacheStore(uri), CacheStore(tmp_path / "cache")
    assert isinstance(remote.root, StorePath)
    for kind in KINDS:
        assert _rows(remote, kind) == _rows(here, kind), kind
    info, local_info = read_manifest(tmp_path / "s3.parquet"), read_manifest(tmp_path / "local.parquet")
    assert info.cache_dir == remote.root and info.rows == local_info.rows
    assert remote.text_hashes(info.text_encoder) == here.text_hashes(info.text_encoder)
    assert info.visual_features == local_info.visual_features
    names = sorted(p.name for p in remote.visual_dir(info.visual_features).glob("*.npz"))
    assert names == sorted(p.name for p in here.visual_dir(info.visual_features).glob("*.npz")) and names
    objects = [p.name for p in remote.root.rglob("*") if p.is_file()]
    assert not [n for n in objects if n.startswith(".")]  # every object written whole, none left half

    again = _run(demo_dir, tiny_clip, uri, tmp_path / "s3-again.parquet")
    assert again["model_calls"] == 0 and again["cache_hits"] == first["model_calls"]

    built = [
        GroundingDataset(i, None, open_video_store(i), max_len=16, targets=None, fields=FIELDS)
        for i in (info, local_info)
    ]
    assert len(built[0]) == len(built[1]) > 0
    for a, b in zip(built[0], built[1], strict=True):
        assert a.keys() == b.keys()
        for key, value in a.items():
            if isinstance(value, np.ndarray):
                np.testing.assert_allclose(value, b[key], rtol=1e-5, atol=1e-6, err_msg=key)
    assert pq.read_table(tmp_path / "s3.parquet").schema.metadata[b"cache_dir"].decode() == str(remote.root)
