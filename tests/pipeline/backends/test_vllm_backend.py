"""The vllm backend, for real: vLLM's CPU engine on tiny random LLaVA and Qwen2-VL models.

Runs only in ``.venv-vllm`` (``make test-vllm``); elsewhere the module skips with that reason.
The models use the ``vllm`` tiny scale (decoder head_dim 32, the smallest vLLM's CPU attention
supports). Engines are built once per module (about 30 s each on 2 cores)."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import numpy as np
import pytest

pytest.importorskip("vllm", reason="vllm not installed: run make test-vllm")

from pipeline.backends import BACKENDS  # noqa: E402
from pipeline.backends.base import GenerationRequest, SamplingConfig  # noqa: E402
from pipeline.backends.transformers_backend import TransformersBackend  # noqa: E402
from pipeline.backends.vllm_backend import VLLMBackend  # noqa: E402
from pipeline.demo.tiny_models import build_tiny_llava, build_tiny_qwen2_vl  # noqa: E402
from pipeline.presets import default_backend_name  # noqa: E402
from pipeline.prompts import load_prompt  # noqa: E402

pytestmark = [pytest.mark.vllm, pytest.mark.slow]

BUILDERS = {"llava": build_tiny_llava, "qwen2_vl": build_tiny_qwen2_vl}
GREEDY = SamplingConfig(temperature=0.0, max_new_tokens=8)


def frame(seed: int, height: int = 56, width: int = 72) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (height, width, 3), dtype=np.uint8)


def requests() -> list[GenerationRequest]:
    """A text-only prompt and frames of several shapes (Qwen2-VL resizes each differently)."""
    return [
        GenerationRequest(key="text", prompt="Say something about a video."),
        GenerationRequest(key="wide", prompt="Describe this frame in detail.", images=[frame(1)]),
        GenerationRequest(key="tall", prompt="What is happening here?", images=[frame(2, 84, 56)]),
        GenerationRequest(key="square", prompt="Describe the scene.", images=[frame(3, 56, 56)]),
    ]


@pytest.fixture(scope="module", params=sorted(BUILDERS))
def family(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> tuple[str, Path]:
    name = request.param
    return name, BUILDERS[name](tmp_path_factory.mktemp(name), scale="vllm")


@pytest.fixture(scope="module")
def engine(family: tuple[str, Path]) -> VLLMBackend:
    backend = VLLMBackend(str(family[1]), GREEDY, max_images=8, max_model_len=1024, dtype="float32", enforce_eager=True)
    backend.setup()
    return backend


def test_vllm_is_the_default_backend_here() -> None:
    assert default_backend_name() == "vllm"
    assert BACKENDS.get("vllm") is VLLMBackend


def test_engine_args_carry_the_preset_budget() -> None:
    args = VLLMBackend("qwen2-vl-2b", GREEDY, device="cuda", max_images=8).engine_args()
    assert args["model"] == "Qwen/Qwen2-VL-2B-Instruct" and args["max_model_len"] == 8192
    assert args["mm_processor_kwargs"]["max_pixels"] == 448 * 448
    assert args["limit_mm_per_prompt"] == {"image": 8} and args["enable_prefix_caching"] is True
    assert args["enforce_eager"] is False  # compiled on a GPU
    cpu = VLLMBackend("llava-1.5-7b", GREEDY, device="cpu", max_images=1, engine_kwargs={"max_num_seqs": 4})
    args = cpu.engine_args()
    assert args["enforce_eager"] is True and "mm_processor_kwargs" not in args and args["max_num_seqs"] == 4


def test_greedy_token_ids_equal_transformers(family: tuple[str, Path], engine: VLLMBackend) -> None:
    reference = TransformersBackend(str(family[1]), GREEDY, batch_size=1)
    reference.setup()
    expected = reference.generate(requests())
    got = engine.generate(requests())
    assert [r.status for r in got] == ["ok"] * 4, [r.error for r in got]
    for want, have in zip(expected, got):
        assert have.token_ids == want.token_ids, f"{family[0]} request {have.key}"
        assert have.n_prompt_tokens == want.n_prompt_tokens, f"{family[0]} request {have.key}"
        assert have.n_output_tokens == len(have.token_ids) > 0
        assert have.latency_ms > 0
    assert engine.model_revision == reference.model_revision


def test_bad_request_is_an_error_row_and_the_rest_run(engine: VLLMBackend) -> None:
    too_many = GenerationRequest(key="nine", prompt="Describe.", images=[frame(i) for i in range(9)])
    not_rgb = GenerationRequest(key="gray", prompt="Describe.", images=[np.zeros((8, 8), dtype=np.uint8)])
    results = engine.generate([too_many, requests()[1], not_rgb])
    assert [r.status for r in results] == ["error", "ok", "error"]
    assert "9 images" in results[0].error and results[0].error_type == "ValueError"
    assert "HxWx3" in results[2].error


def steer_to_short_json(folder: Path) -> Path:
    """Make a random LLaVA close its JSON strings, numbers and list quickly: every token embedding
    is zeroed (logit 0) except the closing quote and bracket and a few words (scaled up: large
    logits of either sign, so they win about half the time they are allowed). Unsteered, a
    random model under the grammar writes digits or list items forever."""
    from safetensors.torch import load_file, save_file
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(folder)
    keep = ['"', "]", "a", "person", "walks", "."]  # where the grammar allows them, these compete with 0
    ids = [tokenizer.convert_tokens_to_ids(t) for t in keep] + tokenizer.all_special_ids
    weights = folder / "model.safetensors"
    tensors = load_file(weights)
    name = "language_model.model.embed_tokens.weight"
    table = tensors[name]
    steered = table.new_zeros(table.shape)
    steered[ids] = table[ids] * 3.0
    tensors[name] = steered
    save_file(tensors, weights, metadata={"format": "pt"})
    return folder


def test_guided_json_for_describe_events_validates_against_the_schema(tmp_path: Path) -> None:
    folder = steer_to_short_json(build_tiny_llava(tmp_path / "llava", scale="vllm"))
    template = load_prompt("describe_events")
    times = [float(t) for t in range(0, 16, 2)][: template.n_images]
    prompt = template.render(timestamps=times, duration=16.0)
    images = [frame(10 + i) for i in range(template.n_images)]
    request = GenerationRequest(key="events", prompt=prompt, images=images, json_schema=template.json_schema)
    sampling = SamplingConfig(temperature=0.0, max_new_tokens=200)
    engine = VLLMBackend(str(folder), sampling, max_images=8, max_model_len=1024, dtype="float32", enforce_eager=True)
    engine.setup()
    (result,) = engine.generate([request])
    assert result.status == "ok", result.error
    assert result.n_output_tokens < 200, "the JSON did not close within the token budget"
    # The tiny models' WordPiece vocabulary is not byte-reversible: decode() puts spaces between
    # word pieces ('eve n ts'). The grammar constrained the pieces themselves, so join those.
    tokenizer = engine.adapter.tokenizer
    pieces = tokenizer.convert_ids_to_tokens(result.token_ids)
    raw = "".join(p for p in pieces if p not in tokenizer.all_special_tokens)
    events = json.loads(raw)
    jsonschema.validate(events, template.json_schema)
    assert len(events) >= 1 and {"start", "end", "description"} <= set(events[0])
