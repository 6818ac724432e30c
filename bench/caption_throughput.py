"""Caption throughput of a random-weight model of a preset's real size, per backend, fixed length.

``--device cuda`` is the GPU measurement: it builds a random-weight model with the layer sizes of
the preset (``--preset qwen2-vl-2b`` or ``llava-1.5-7b``) with ``pipeline.demo.tiny_models``' builders,
captions ``--frames`` frames with ``narrate_frame`` and forces every caption to exactly
``--output-tokens`` tokens (vLLM ``min_tokens`` + ``ignore_eos``; transformers ``min_new_tokens``),
so throughput matches real captions whatever the random weights say. It reports frames/s,
prompt tok/s and output tok/s for each backend that imports here (``transformers`` always;
``vllm`` in an environment that has it). ``--size small`` uses the benchmark-size model instead,
which is how it runs on a CPU in tests.

Approximations of "real size": the tiny tokenizer's 30k vocabulary (Qwen2-VL has 152k, LLaVA
32k), full multi-head attention instead of Qwen2's grouped KV heads, and 4 vision heads.

    .venv/bin/python bench/caption_throughput.py --device cuda --preset qwen2-vl-2b --frames 256
    .venv-vllm/bin/python bench/caption_throughput.py --device cpu --size small --frames 16
"""

from __future__ import annotations

import argparse
import importlib.util
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

from pipeline.backends.base import Backend, GenerationRequest, SamplingConfig
from pipeline.backends.transformers_backend import TransformersBackend
from pipeline.demo.tiny_models import SIZES, TinySize, build_tiny_llava, build_tiny_qwen2_vl
from pipeline.prompts import load_prompt

# Layer sizes of the presets' published configs (hidden, layers, heads, MLP; vision width/depth/side).
REAL_SIZES = {
    "qwen2-vl-2b": (
        build_tiny_qwen2_vl,
        TinySize(
            hidden=1536, layers=28, heads=12, intermediate=8960, vision_hidden=1280, vision_layers=32, image_size=448
        ),
    ),
    "llava-1.5-7b": (
        build_tiny_llava,
        TinySize(
            hidden=4096, layers=32, heads=32, intermediate=11008, vision_hidden=1024, vision_layers=24, image_size=336
        ),
    ),
}


class FixedLengthTransformers(TransformersBackend):
    """Transformers backend that never stops before ``max_new_tokens``."""

    def _generate_kwargs(self, s: SamplingConfig) -> dict[str, Any]:
        return {**super()._generate_kwargs(s), "min_new_tokens": s.max_new_tokens}


def fixed_length_vllm(model: str, sampling: SamplingConfig, device: str) -> Backend:
    from pipeline.backends.vllm_backend import VLLMBackend

    class FixedLengthVLLM(VLLMBackend):
        """vLLM backend that ignores EOS and emits exactly ``max_new_tokens``."""

        def sampling_params(self, request: GenerationRequest, s: SamplingConfig) -> Any:
            params = super().sampling_params(request, s)
            params.ignore_eos = True
            params.min_tokens = s.max_new_tokens
            return params

    return FixedLengthVLLM(model, sampling, device=device, max_images=1)


def build_model(preset: str, size: str, out: Path) -> Path:
    builder, real = REAL_SIZES[preset]
    if size == "real":
        SIZES[preset] = real
        return builder(out, scale=preset)  # type: ignore[arg-type]
    return builder(out, scale="small")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--preset", choices=sorted(REAL_SIZES), default="qwen2-vl-2b")
    parser.add_argument("--size", choices=["real", "small"], default="real")
    parser.add_argument("--device", default="cuda")
    parser.add_argument("--frames", type=int, default=128)
    parser.add_argument("--output-tokens", type=int, default=64)
    parser.add_argument("--batch-size", type=int, default=32, help="transformers batch size")
    parser.add_argument("--backends", default="transformers,vllm")
    args = parser.parse_args()

    model = str(build_model(args.preset, args.size, Path(tempfile.mkdtemp()) / args.preset))
    sampling = SamplingConfig(max_new_tokens=args.output_tokens)
    prompt = load_prompt("narrate_frame").render()
    frames = np.random.default_rng(0).integers(0, 256, (args.frames, 360, 640, 3), dtype=np.uint8)
    requests = [GenerationRequest(key=f"f{i}", prompt=prompt, images=[f]) for i, f in enumerate(frames)]

    print(
        f"{args.preset} ({args.size}), {args.frames} frames 640x360, {args.output_tokens} output tokens, {args.device}"
    )
    print(f"{'backend':<14}{'frames/s':>10}{'prompt tok/s':>14}{'output tok/s':>14}{'errors':>8}")
    failed = False
    for name in args.backends.split(","):
        if name == "vllm" and importlib.util.find_spec("vllm") is None:
            print(f"{name:<14}  not installed here: not measured")
            continue
        if name == "vllm":
            backend = fixed_length_vllm(model, sampling, args.device)
        else:
            backend = FixedLengthTransformers(model, sampling, device=args.device, batch_size=args.batch_size)
        backend.setup()
        backend.generate(requests[:2])  # warm-up
        start = time.perf_counter()
        results = backend.generate(requests)
        seconds = time.perf_counter() - start
        prompt_tokens = sum(r.n_prompt_tokens for r in results)
        output_tokens = sum(r.n_output_tokens for r in results)
        errors = [r for r in results if r.status != "ok"]
        print(
            f"{name:<14}{len(results) / seconds:>10.2f}{prompt_tokens / seconds:>14.1f}"
            f"{output_tokens / seconds:>14.1f}{len(errors):>8}"
        )
        if errors:  # a failed request is no measurement: say why, and exit non-zero
            print(f"  {name}: {len(errors)} of {len(results)} requests failed, e.g. {errors[0].key}: {errors[0].error}")
            failed = True
        del backend
    if failed:
        raise SystemExit(1)


if __name__ == "__main__":
    main()
