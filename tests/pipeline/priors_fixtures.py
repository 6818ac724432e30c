"""Session fixtures for the priors pipeline tests: a few generated demo videos and tiny random
models, built once per test session. Import the fixtures you need into a test module."""

from __future__ import annotations

from pathlib import Path

import pytest

N_DEMO_VIDEOS = 3


@pytest.fixture(scope="session")
def demo_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 3-video demo dataset (folder format: {train,val,test}.jsonl + videos/)."""
    from pipeline.demo.videos import generate_demo

    return generate_demo(tmp_path_factory.mktemp("demo"), seed=0, n_videos=N_DEMO_VIDEOS)


@pytest.fixture(scope="session")
def tiny_llava(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from pipeline.demo.tiny_models import build_tiny_llava

    return build_tiny_llava(tmp_path_factory.mktemp("models") / "tiny-llava", seed=0)


@pytest.fixture(scope="session")
def tiny_clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from pipeline.demo.tiny_models import build_tiny_clip_vision

    return build_tiny_clip_vision(tmp_path_factory.mktemp("models") / "tiny-clip", seed=0)


def priors_config(demo: Path, model: Path, cache: Path, manifest: Path, **overrides):
    """A small, fast run over the demo: sparse frames, short outputs, no progress bars."""
    from pipeline.backends.base import SamplingConfig
    from pipeline.config import PriorsConfig

    settings = {
        "dataset": "demo",
        "annotations": demo,
        "cache": cache,
        "manifest": manifest,
        "model": str(model),
        "interval": 6.0,
        "clip_len": 10.0,
        "sampling": SamplingConfig(max_new_tokens=4),
        "num_cpus": 2,
        "progress": False,
        "write_batch_size": 4,
        "generate_batch_size": 4,
    }
    return PriorsConfig(**{**settings, **overrides})
