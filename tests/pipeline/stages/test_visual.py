from __future__ import annotations

from functools import partial
from pathlib import Path

import numpy as np

from pipeline.features.visual import VisualEncoder, write_video_features
from pipeline.stages.decode import NO_IMAGES
from pipeline.stages.visual import VisualFeatureStage, WriteVisualStage
from tests.pipeline.priors_fixtures import tiny_clip  # noqa: F401 - fixture


def test_encodes_per_second_frames_and_writes_npz(tiny_clip: Path, tmp_path: Path) -> None:  # noqa: F811
    frames = np.random.default_rng(0).integers(0, 255, (5, 48, 64, 3), np.uint8)
    batch = {
        "video_id": ["v1", "gone"],
        "images": [frames, NO_IMAGES],
        "status": ["ok", "error"],
        "error_type": ["", "missing_video"],
        "error": ["", "decode: gone"],
        "n_decoded": [5, 0],
    }
    stage = VisualFeatureStage(partial(VisualEncoder, tiny_clip))
    stage.setup()
    out = stage.process_batch(batch)
    assert out["features"][0].shape == (5, stage.model.dim) and out["features"][1].size == 0
    written = WriteVisualStage(tmp_path, write_video_features).process_batch(out)
    assert written["written"] == [True, False]
    with np.load(tmp_path / "v1.npz") as npz:
        np.testing.assert_allclose(npz["features"], out["features"][0])
    assert not (tmp_path / "gone.npz").exists()
