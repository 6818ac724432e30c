"""Per-frame patch grids (``pipeline.features.patches``) with a tiny random CLIP: shape and dtype,
where a patch sits (a shape on the left changes the left cells, not the right ones), squashing
instead of cropping, the spec in the cache folder name, and the file format."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from pipeline.features.patches import PatchEncoder, read_frame_ids, write_patch_features
from tests.pipeline.priors_fixtures import tiny_clip  # noqa: F401 - fixture


def test_grid_shape_locality_and_squash(tiny_clip: Path) -> None:  # noqa: F811
    encoder = PatchEncoder(tiny_clip, grid=7)
    assert encoder.dim == 64 and encoder.spec()["pooling"] == "patch_grid7"
    blank = np.full((1, 96, 192, 3), 32, np.uint8)  # a wide frame: squashed, not cropped
    left = blank.copy()
    left[0, 30:66, 4:40] = (230, 30, 30)  # a red square at the very left (a centre crop would cut it off)
    out = encoder.encode(np.concatenate([blank, left]))
    assert out.shape == (2, 7, 7, 64) and out.dtype == np.float16
    change = np.abs(out[1].astype(np.float32) - out[0].astype(np.float32)).mean(-1)  # (7, 7)
    assert change[:, :2].mean() > 3 * change[:, 5:].mean()  # attention mixes a little everywhere
    assert np.unravel_index(change.argmax(), change.shape)[1] < 2
    assert PatchEncoder(tiny_clip, grid=5).encode(blank).shape == (1, 5, 5, 64)
    assert PatchEncoder(tiny_clip, grid=5).spec() != encoder.spec()  # the grid is in the cache key


def test_file_format(tmp_path: Path) -> None:
    patches = np.random.default_rng(0).normal(size=(3, 7, 7, 4)).astype(np.float32)
    path = write_patch_features(tmp_path, "v", patches, np.array([0, 6, 12]))
    with np.load(path) as data:
        assert data["patches"].dtype == np.float16 and data["frame_ids"].tolist() == [0, 6, 12]
    assert read_frame_ids(path).tolist() == [0, 6, 12] and read_frame_ids(tmp_path / "none.npz") is None
    with pytest.raises(ValueError, match="one row per frame id"):
        write_patch_features(tmp_path, "v", patches, np.array([0, 6]))
    with pytest.raises(ValueError, match="strictly ascending"):
        write_patch_features(tmp_path, "v", patches, np.array([0, 6, 6]))
