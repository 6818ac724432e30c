"""The ``stvg`` batch fields of a manifest row (``grounding.data.stvg``): the query's grid frames
taken from the patch set, times, presence and normalised GT boxes from the tube table, the GT
records for scoring, and the errors that name what is missing."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from grounding.data.stvg import StvgData, ground_truth_rows
from groundwork.cache.manifest import ManifestInfo
from groundwork.errors import InputError, MissingInputError
from groundwork.stvg import STVG_KEY, TUBE_SCHEMA, StvgQuery, tubes_path

BLOCK = StvgQuery(fps=10.0, frame_count=40, width=100, height=50, segment=(4, 30), gt_sted=(10, 20), target_id="1")


def _info(tmp_path: Path, patch_set: str = "clip-patch7-x", tubes: bool = True) -> ManifestInfo:
    cache = tmp_path / "cache"
    folder = cache / "visual" / patch_set
    folder.mkdir(parents=True)
    fids = np.arange(0, 40, 2)  # a superset of the query's grid (its 5 fps frames from 4)
    patches = np.arange(len(fids), dtype=np.float16)[:, None, None, None] * np.ones((1, 7, 7, 3), np.float16)
    np.savez(folder / "v0.npz", patches=patches, frame_ids=fids)
    manifest = tmp_path / "m.parquet"
    if tubes:
        rows = [{"video_id": "v0", "target_id": "1", "fid": f, "x1": 10.0, "y1": 5.0, "x2": 60.0, "y2": 25.0}
                for f in range(10, 20)]
        pq.write_table(pa.Table.from_pylist(rows, schema=TUBE_SCHEMA), tubes_path(manifest))
    extra = json.dumps({STVG_KEY: BLOCK.as_extra(), "sentence_type": "interrogative"})
    row = {"query_id": "q0", "video_id": "v0", "split": "test", "query": "what moves?", "windows": [[1.0, 2.0]],
           "duration": 4.0, "extra": extra}
    return ManifestInfo(manifest, [row], cache, "enc", "", "toy", [], patch_set)


def test_fields_on_the_querys_grid(tmp_path: Path) -> None:
    info = _info(tmp_path)
    out = StvgData(info).fields(info.rows[0])
    grid = BLOCK.grid()
    assert grid == list(range(4, 30, 2)) and out["frame_ids"].tolist() == grid
    assert out["frame_patches"].shape == (len(grid), 49, 3) and out["frame_patches"].dtype == np.float32
    assert out["frame_patches"][:, 0, 0].tolist() == [f / 2 for f in grid]  # the patch set's rows of those frames
    np.testing.assert_allclose(out["frame_times"], np.array(grid) / 10.0)
    assert out["frame_presence"].tolist() == [float(10 <= f < 20) for f in grid]
    inside = out["frame_presence"] > 0
    np.testing.assert_allclose(out["frame_boxes"][inside], [[0.1, 0.1, 0.6, 0.5]] * int(inside.sum()))
    assert not out["frame_boxes"][~inside].any()
    assert out["frame_size"].tolist() == [100.0, 50.0] and out["query_segment"].tolist() == pytest.approx([0.4, 3.0])
    (gt,) = ground_truth_rows(info, info.rows)
    assert gt["gt_sted"] == [10, 20] and sorted(gt["gt_boxes"]) == [10, 12, 14, 16, 18]
    assert (gt["qtype"], gt["segment"], gt["fps"]) == ("interrogative", [4, 30], 10.0)


def test_missing_inputs_are_named(tmp_path: Path) -> None:
    info = _info(tmp_path, tubes=False)
    assert "frame_boxes" not in StvgData(info, {"frame_patches"}).fields(info.rows[0])  # boxes read only when asked
    with pytest.raises(MissingInputError, match="no tube table"):
        StvgData(info).fields(info.rows[0])
    assert ground_truth_rows(info, info.rows) == []
    with pytest.raises(InputError, match="names no patch_features"):
        StvgData(ManifestInfo(info.path, info.rows, info.cache_dir, "enc", "", "toy", [], ""))
    plain = {**info.rows[0], "query_id": "q1", "extra": "{}"}
    with pytest.raises(InputError, match="q1.*no STVG block"):
        StvgData(info).fields(plain)
    other = {**info.rows[0], "query_id": "q2", "video_id": "v9"}
    with pytest.raises(MissingInputError, match="'v9': no patch grids"):
        StvgData(info).fields(other)
