"""Per-frame visual features from a tiny random-weight CLIP vision tower built at test time."""

from __future__ import annotations

import sys
import time
from pathlib import Path

import numpy as np
import pytest

from pipeline.demo.tiny_models import build_tiny_clip_vision
from pipeline.demo.videos import BACKGROUND, COLOURS, SIZE, generate_demo, shape_mask
from pipeline.features.visual import VisualEncoder, write_video_features
from pipeline.frames import FrameSampler


@pytest.fixture(scope="module")
def tiny_clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_tiny_clip_vision(tmp_path_factory.mktemp("tiny_clip"), seed=0)


def _frames(n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Demo-style frames: one red or blue square at a random x; returns (frames, x centres)."""
    rng = np.random.default_rng(seed)
    frames, xs = np.empty((n, SIZE, SIZE, 3), np.uint8), rng.uniform(26, 102, n)
    for i, x in enumerate(xs):
        image = np.broadcast_to(BACKGROUND, (SIZE, SIZE, 3)).copy()
        image[shape_mask("square", x, 64, 44)] = COLOURS["red" if i % 2 else "blue"]
        frames[i] = image
    return frames, xs


def test_builds_fast_offline_and_without_torchvision(tmp_path: Path) -> None:
    from transformers import CLIPVisionModel  # noqa: F401 - import time is not build time
    from transformers.models.clip.image_processing_pil_clip import CLIPImageProcessorPil  # noqa: F401

    start = time.perf_counter()
    folder = build_tiny_clip_vision(tmp_path / "clip", seed=0)
    assert time.perf_counter() - start < 5.0  # about 0.05-0.2 s on an idle core
    assert {"config.json", "model.safetensors", "preprocessor_config.json"} <= {p.name for p in folder.iterdir()}
    encoder = VisualEncoder(folder)
    encoder.setup()
    assert encoder.encode(_frames(2)[0]).shape == (2, encoder.dim)
    assert not [m for m in sys.modules if m == "torchvision" or m.startswith("torchvision.")]


@pytest.mark.parametrize(("pooling", "width"), [("cls_grid2", 5), ("cls_mean", 2), ("cls", 1), ("mean", 1)])
def test_shapes_and_dtype(tiny_clip: Path, pooling: str, width: int) -> None:
    encoder = VisualEncoder(tiny_clip, pooling=pooling)
    assert encoder.dim == 64 * width
    frames = np.random.default_rng(0).integers(0, 256, (3, 90, 120, 3), dtype=np.uint8)  # any size
    features = encoder.encode(frames)
    assert features.shape == (3, encoder.dim) and features.dtype == np.float32
    assert np.isfinite(features).all()
    assert encoder.encode(frames[:0]).shape == (0, encoder.dim)


def test_same_seed_same_features_other_seed_other(tiny_clip: Path, tmp_path: Path) -> None:
    frames = _frames(4)[0]
    again = VisualEncoder(build_tiny_clip_vision(tmp_path / "again", seed=0)).encode(frames)
    other = VisualEncoder(build_tiny_clip_vision(tmp_path / "other", seed=1)).encode(frames)
    first = VisualEncoder(tiny_clip).encode(frames)
    np.testing.assert_array_equal(first, again)
    assert not np.allclose(first, other)
    assert (
        VisualEncoder(tiny_clip).spec()
        == VisualEncoder(tmp_path / "again").spec()
        != VisualEncoder(tmp_path / "other").spec()
    )


def test_default_pooling_keeps_position_and_colour(tiny_clip: Path) -> None:
    """A ridge probe on held-out frames recovers the shape's x and colour from the features."""
    frames, xs = _frames(120)
    features = VisualEncoder(tiny_clip).encode(frames)
    features = (features - features[:90].mean(0)) / (features[:90].std(0) + 1e-6)
    design = np.c_[features, np.ones(len(features))]
    fit, held = design[:90], design[90:]
    solve = np.linalg.solve(fit.T @ fit + 10 * np.eye(fit.shape[1]), fit.T @ np.c_[xs[:90], np.arange(90) % 2])
    pred = held @ solve
    r2 = 1 - ((pred[:, 0] - xs[90:]) ** 2).sum() / ((xs[90:] - xs[90:].mean()) ** 2).sum()
    assert r2 > 0.5, f"x is not linearly recoverable (R^2 = {r2:.2f})"
    assert ((pred[:, 1] > 0.5) == (np.arange(90, 120) % 2 == 1)).mean() > 0.95


def test_loads_the_vision_part_of_a_full_clip_folder(tmp_path: Path) -> None:
    from transformers import CLIPConfig, CLIPModel
    from transformers.models.clip.image_processing_pil_clip import CLIPImageProcessorPil

    tower = {"hidden_size": 32, "intermediate_size": 64, "num_hidden_layers": 1, "num_attention_heads": 2}
    config = CLIPConfig(
        text_config={**tower, "vocab_size": 100},
        vision_config={**tower, "image_size": 32, "patch_size": 16},
        projection_dim=16,
    )
    CLIPModel(config).save_pretrained(tmp_path)
    CLIPImageProcessorPil(size={"shortest_edge": 32}, crop_size={"height": 32, "width": 32}).save_pretrained(tmp_path)
    assert VisualEncoder(tmp_path).encode(_frames(2)[0]).shape == (2, 5 * 32)


def test_rejects_frames_that_are_not_uint8_rgb(tiny_clip: Path) -> None:
    with pytest.raises(ValueError, match="uint8"):
        VisualEncoder(tiny_clip).encode(np.zeros((2, 8, 8, 3), np.float32))
    with pytest.raises(ValueError, match="pooling"):
        VisualEncoder(tiny_clip, pooling="max")  # type: ignore[arg-type]


def test_demo_video_to_npz_round_trip(tiny_clip: Path, tmp_path: Path) -> None:
    demo = generate_demo(tmp_path / "demo", seed=0, n_videos=3)
    video = sorted((demo / "videos").glob("*.mp4"))[0]
    sampled = FrameSampler().sample(video)
    assert sampled.ok, sampled.error
    encoder = VisualEncoder(tiny_clip)
    path = write_video_features(tmp_path / "feats", video.stem, encoder.encode(sampled.frames))
    assert path == tmp_path / "feats" / f"{video.stem}.npz"
    with np.load(path) as npz:
        assert list(npz.keys()) == ["features"]
        assert npz["features"].shape == (len(sampled.timestamps), encoder.dim)
        assert npz["features"].dtype == np.float32
    assert [p.name for p in (tmp_path / "feats").iterdir()] == [path.name], "a temporary file was left behind"


def test_write_refuses_bad_arrays_naming_the_video(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="vid7"):
        write_video_features(tmp_path, "vid7", np.zeros(5, np.float32))
    with pytest.raises(ValueError, match="vid8"):
        write_video_features(tmp_path, "vid8", np.full((2, 3), np.nan, np.float32))
    assert list(tmp_path.iterdir()) == []
