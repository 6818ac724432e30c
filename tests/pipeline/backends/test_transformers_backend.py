"""The transformers backend on the tiny random LLaVA and Qwen2-VL (each test runs for both)."""

from __future__ import annotations

import functools
from pathlib import Path

import numpy as np
import pytest

from pipeline.backends import BACKENDS, GenerationRequest, SamplingConfig
from pipeline.backends.engine import local_revision
from pipeline.backends.transformers_backend import TransformersBackend

GREEDY = SamplingConfig(max_new_tokens=6)


def frame(seed: int, height: int = 48, width: int = 64) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (height, width, 3), dtype=np.uint8)


def image_requests(n: int = 3) -> list[GenerationRequest]:
    """Prompts of different lengths and frames of different sizes, so a batch needs padding."""
    return [
        GenerationRequest(key=f"k{i}", prompt="caption this frame " + "in detail " * i, images=[frame(i, 40 + 12 * i)])
        for i in range(n)
    ]


@functools.lru_cache(maxsize=16)
def backend(folder: Path, sampling: SamplingConfig = GREEDY, batch_size: int = 8) -> TransformersBackend:
    """A loaded backend, shared by the tests that ask for the same model and settings."""
    b = BACKENDS.get("transformers")(str(folder), sampling, batch_size=batch_size)
    b.setup()
    return b


def test_batch_with_images_fills_every_field(tiny_model: Path) -> None:
    results = backend(tiny_model).generate(image_requests())
    assert [r.key for r in results] == ["k0", "k1", "k2"]
    for r in results:
        assert r.status == "ok", r.error
        assert 1 <= r.n_output_tokens == len(r.token_ids) <= GREEDY.max_new_tokens
        assert r.n_prompt_tokens > 10 and r.latency_ms > 0
    assert len({tuple(r.token_ids) for r in results}) > 1  # outputs depend on the input


def test_batched_greedy_equals_one_at_a_time(tiny_model: Path) -> None:
    b = backend(tiny_model, batch_size=3)
    requests = [*image_requests(), GenerationRequest(key="text", prompt="rewrite: a man jumps")]
    batched = [r.token_ids for r in b.generate(requests)]
    single = [b.generate([request])[0].token_ids for request in requests]
    assert batched == single


def test_image_changes_the_output(tiny_model: Path) -> None:
    b = backend(tiny_model)
    a, c = b.generate([GenerationRequest("a", "caption", [frame(1)]), GenerationRequest("c", "caption", [frame(2)])])
    assert a.token_ids != c.token_ids


def test_sampling_is_reproducible_with_a_seed(tiny_model: Path) -> None:
    sampled = SamplingConfig(temperature=1.0, max_new_tokens=8, seed=7)
    first = [r.token_ids for r in backend(tiny_model, sampled).generate(image_requests())]
    fresh = BACKENDS.get("transformers")(str(tiny_model), sampled)  # a second load, as in another worker
    fresh.setup()
    again = [r.token_ids for r in fresh.generate(image_requests())]
    other = [
        r.token_ids for r in backend(tiny_model, sampled.model_copy(update={"seed": 8})).generate(image_requests())
    ]
    assert first == again
    assert first != other


def test_text_only_request(tiny_model: Path) -> None:
    (result,) = backend(tiny_model).generate([GenerationRequest(key="q", prompt="Rewrite: a person opens a door")])
    assert result.status == "ok" and result.n_output_tokens >= 1


def test_malformed_image_is_an_error_row_and_the_rest_still_run(tiny_model: Path) -> None:
    bad = [
        GenerationRequest(key="gray", prompt="caption", images=[np.zeros((32, 32), dtype=np.uint8)]),
        GenerationRequest(key="float", prompt="caption", images=[np.zeros((32, 32, 3), dtype=np.float32)]),
        GenerationRequest(key="none", prompt="caption", images=[None]),  # type: ignore[list-item]
    ]
    results = backend(tiny_model).generate([bad[0], *image_requests(2), *bad[1:]])
    assert [r.status for r in results] == ["error", "ok", "ok", "error", "error"]
    assert "HxWx3 uint8" in results[0].error and results[0].error_type == "ValueError"
    assert "float32" in results[3].error and "NoneType" in results[4].error


def test_model_revision_hashes_the_local_folder(tiny_model: Path) -> None:
    b = backend(tiny_model)
    assert b.model_revision == local_revision(tiny_model)
    assert len(b.model_revision) == 64


def test_unknown_backend_names_the_choices() -> None:
    with pytest.raises(ValueError, match=r"unknown backend 'transformer'; did you mean 'transformers'\?"):
        BACKENDS.get("transformer")


def test_generate_before_setup_says_so(tiny_model: Path) -> None:
    with pytest.raises(RuntimeError, match="call setup"):
        TransformersBackend(str(tiny_model), GREEDY).generate(image_requests(1))


def test_output_stops_at_the_first_end_of_sequence_token(tiny_model: Path) -> None:
    b = backend(tiny_model)
    eos = b._eos_ids[0]
    result = b._result("k", [1996, 2158, eos, 0, 0], n_prompt=4, latency_ms=1.0)
    assert result.token_ids == [1996, 2158, eos] and result.n_output_tokens == 3
    assert result.text == "the man"


def test_qwen2_vl_image_tokens_get_3d_rope_positions(tmp_path: Path) -> None:
    """Without mm_token_type_ids, transformers 5.x silently gives image tokens 1D positions.
    With M-RoPE an image of h x w merged patches advances positions by max(h, w), not h * w."""
    from pipeline.demo.tiny_models import build_tiny_qwen2_vl

    b = backend(build_tiny_qwen2_vl(tmp_path / "qwen"))
    b.generate([GenerationRequest(key="a", prompt="caption", images=[frame(0, 112, 112)])])
    deltas = b._model.model.rope_deltas
    assert deltas is not None and int(deltas.flatten()[0]) == 2 - 4  # 2x2 merged patches: 4 tokens, 2 positions
