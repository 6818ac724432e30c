from __future__ import annotations

from functools import partial
from pathlib import Path

import numpy as np

from groundwork.cache.hashing import sha256_text
from pipeline.backends.base import SamplingConfig
from pipeline.backends.transformers_backend import TransformersBackend
from pipeline.stages.decode import NO_IMAGES
from pipeline.stages.generate import GenerateStage
from tests.pipeline.priors_fixtures import tiny_llava  # noqa: F401 - fixture


def _batch(n_ok: int, n_err: int) -> dict:
    rng = np.random.default_rng(0)
    n = n_ok + n_err
    return {
        "key": [f"k{i}" for i in range(n)],
        "kind": ["narrative"] * n,
        "prompt": ["Describe this frame."] * n,
        "prompt_id": ["narrate_frame"] * n,
        "prompt_vars": ["{}"] * n,
        "images": [rng.integers(0, 255, (1, 32, 32, 3), np.uint8) for _ in range(n_ok)] + [NO_IMAGES] * n_err,
        "status": ["ok"] * n_ok + ["error"] * n_err,
        "error_type": [""] * n_ok + ["missing_video"] * n_err,
        "error": [""] * n_ok + ["decode: gone"] * n_err,
    }


def test_generates_for_ok_rows_and_passes_errors_through(tiny_llava: Path) -> None:  # noqa: F811
    make = partial(TransformersBackend, str(tiny_llava), SamplingConfig(max_new_tokens=3), batch_size=4)
    stage = GenerateStage(make, {"narrative": None})
    stage.setup()
    out = stage.process_batch(_batch(n_ok=3, n_err=1))
    assert out["model_called"] == [True, True, True, False]
    assert out["status"][:3] == ["ok"] * 3 and out["status"][3] == "error"
    assert out["error_type"][3] == "missing_video"
    for i in range(3):
        assert out["text_sha256"][i] == sha256_text(out["text"][i])
        assert out["n_prompt_tokens"][i] > 0 and 0 < out["n_output_tokens"][i] <= 3
    assert out["text"][3] == "" and out["n_prompt_tokens"][3] == 0


def test_a_batch_of_only_failed_rows_calls_no_model() -> None:
    class FakeBackendThatMustNotRun:
        """Fake: stands in for a backend to prove generate() is never reached."""

        name = "fake"

        def setup(self) -> None: ...

        def generate(self, requests):  # pragma: no cover - failing is the point
            raise AssertionError("model called for failed rows")

    stage = GenerateStage(FakeBackendThatMustNotRun, {})
    out = stage.process_batch(_batch(n_ok=0, n_err=2))
    assert out["model_called"] == [False, False]
