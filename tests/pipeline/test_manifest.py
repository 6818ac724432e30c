from __future__ import annotations

from pathlib import Path

import pyarrow.parquet as pq
import pytest

from groundwork.cache.hashing import sha256_text
from groundwork.cache.layout import MANIFEST_META, manifest_schema
from groundwork.cache.manifest import read_manifest_meta
from pipeline.datasets.base import Annotations, PolicyReport, Query, Video
from pipeline.kinds import kind_names
from pipeline.manifest import build_manifest, write_manifest


def _annotations() -> Annotations:
    videos = {"v1": Video("v1", 10.0), "v2": Video("v2", 6.0)}
    queries = [
        Query("q1", "v1", "train", "a circle appears", ((1.0, 3.0),), 10.0, {"saliency": [1, 2]}),
        Query("q2", "v1", "test", "a square moves", ((4.0, 6.0), (7.0, 8.0)), 10.0),
        Query("q3", "v2", "train", "it turns red", ((0.0, 2.0),), 6.0),
    ]
    return Annotations("toy", videos, queries, PolicyReport())


PLANNED = {
    "v1": {"narrative": [("n1", ""), ("n2", ""), ("n3", "")], "query_caption": [("c1", "q1"), ("c2", "q2")]},
    "v2": {"narrative": [("n4", "")]},
}


def test_one_row_per_query_with_ok_keys_in_plan_order() -> None:
    ok = {"narrative": {"n3", "n1", "n4"}, "query_caption": {"c1", "c2"}}  # n2 failed
    table = build_manifest(_annotations(), PLANNED, ok, {"v1": "h1", "v2": "h2"})
    assert table.schema == manifest_schema(kind_names())
    rows = {r["query_id"]: r for r in table.to_pylist()}
    assert list(rows) == ["q1", "q2", "q3"]
    assert rows["q1"]["narrative_keys"] == ["n1", "n3"] and rows["q3"]["narrative_keys"] == ["n4"]
    assert rows["q1"]["query_caption_keys"] == ["c1"] and rows["q2"]["query_caption_keys"] == ["c2"]
    assert rows["q2"]["windows"] == [[4.0, 6.0], [7.0, 8.0]]
    assert rows["q1"]["context_query_ids"] == ["q2"] and rows["q3"]["context_query_ids"] == []
    assert rows["q1"]["query_sha256"] == sha256_text("a circle appears")
    assert rows["q1"]["video_sha256"] == "h1" and rows["q1"]["extra"] == '{"saliency": [1, 2]}'
    assert rows["q3"]["event_keys"] == [] and rows["q3"]["clip_caption_keys"] == []


def test_written_atomically_with_metadata(tmp_path: Path) -> None:
    table = build_manifest(_annotations(), PLANNED, {}, {})
    path = write_manifest(
        tmp_path / "manifests" / "toy.parquet",
        table,
        dataset="toy",
        cache_dir=tmp_path / "c",
        text_encoder="all-MiniLM-L6-v2",
        visual_features=str(tmp_path / "c/visual/clip"),
    )
    meta = read_manifest_meta(path)
    assert set(meta) == set(MANIFEST_META)
    assert meta["dataset"] == "toy" and meta["cache_dir"] == str((tmp_path / "c").resolve())
    assert pq.read_table(path).num_rows == 3
    assert [p.name for p in path.parent.iterdir()] == ["toy.parquet"]


def test_a_failed_write_leaves_the_old_manifest(tmp_path: Path) -> None:
    path = tmp_path / "toy.parquet"
    write_manifest(
        path, build_manifest(_annotations(), PLANNED, {}, {}), dataset="toy", cache_dir=tmp_path, text_encoder="e"
    )
    before = path.read_bytes()
    with pytest.raises(Exception):  # noqa: B017 - any pyarrow error: the point is what remains
        write_manifest(path, "not a table", dataset="toy", cache_dir=tmp_path, text_encoder="e")  # type: ignore[arg-type]
    assert path.read_bytes() == before


def test_structured_requests_expand_to_their_item_keys() -> None:
    from pipeline.kinds.structured import item_key
    from pipeline.manifest import expand_structured

    planned = {
        "v1": {"event": [("e1", "")], "query_rewrite": [("r1", "q1"), ("r2", "q2")], "narrative": [("n1", "")]},
        "v2": {"event": [("e2", "")]},
    }
    ok = {
        "event": {"e1", item_key("e1", 0), item_key("e1", 1), "e2"},  # e2: answered with zero valid events
        "query_rewrite": {"r1", *(item_key("r1", i) for i in range(3))},
        "narrative": {"n1"},
    }  # r2 failed
    expanded = expand_structured(planned, ok)
    assert expanded["v1"]["event"] == [(item_key("e1", 0), ""), (item_key("e1", 1), "")]
    assert expanded["v1"]["query_rewrite"] == [*((item_key("r1", i), "q1") for i in range(3)), ("r2", "q2")]
    assert expanded["v1"]["narrative"] == [("n1", "")] and expanded["v2"]["event"] == []
    rows = {r["query_id"]: r for r in build_manifest(_annotations(), expanded, ok, {}).to_pylist()}
    assert rows["q1"]["event_keys"] == rows["q2"]["event_keys"] == [item_key("e1", 0), item_key("e1", 1)]
    assert rows["q1"]["query_rewrite_keys"] == [item_key("r1", i) for i in range(3)]
    assert rows["q2"]["query_rewrite_keys"] == [] and rows["q3"]["event_keys"] == []
