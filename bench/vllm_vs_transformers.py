"""vLLM's generate against the transformers backend and TEA's one-frame-at-a-time loop, one run.

Same random-weight model (``small`` scale of ``pipeline.demo.tiny_models``: 4-layer, 256-wide LM, head
dim 64, 2-layer vision tower), same ``narrate_frame`` requests, greedy, the same token budget.
Arms: ``naive`` (transformers, one request per ``generate`` call), ``transformers`` (all frames
handed over, batched ``--batch-size``), ``vllm`` (all frames in one engine call: continuous
batching). Frames/s and output tokens/s, and the ratios to the naive loop. The transformers arms
run first: a vLLM CPU engine pins torch to its own threads for the rest of the process.
Engine start-up is reported apart and not counted.

    .venv-vllm/bin/python bench/vllm_vs_transformers.py --frames 64
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np

from pipeline.backends.base import Backend, GenerationRequest, GenerationResult, SamplingConfig
from pipeline.backends.transformers_backend import TransformersBackend
from pipeline.demo.tiny_models import build_tiny_llava, build_tiny_qwen2_vl
from pipeline.prompts import load_prompt

BUILDERS = {"llava": build_tiny_llava, "qwen2_vl": build_tiny_qwen2_vl}


def make_requests(n: int, seed: int = 0) -> list[GenerationRequest]:
    prompt = load_prompt("narrate_frame").render()
    rng = np.random.default_rng(seed)
    frames = rng.integers(0, 256, (n, 120, 160, 3), dtype=np.uint8)
    return [GenerationRequest(key=f"f{i}", prompt=prompt, images=[frames[i]]) for i in range(n)]


def timed(
    backend: Backend, requests: list[GenerationRequest], one_at_a_time: bool
) -> tuple[float, list[GenerationResult]]:
    start = time.perf_counter()
    if one_at_a_time:
        results = [r for request in requests for r in backend.generate([request])]
    else:
        results = backend.generate(requests)
    return time.perf_counter() - start, results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--family", choices=sorted(BUILDERS), default="llava")
    parser.add_argument("--frames", type=int, default=64)
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--max-new-tokens", type=int, default=32)
    args = parser.parse_args()
    from pipeline.backends.vllm_backend import VLLMBackend  # needs .venv-vllm

    model = BUILDERS[args.family](Path(tempfile.mkdtemp()) / args.family, scale="small")
    sampling = SamplingConfig(max_new_tokens=args.max_new_tokens)
    requests = make_requests(args.frames)
    rows: list[tuple[str, float, float, list[GenerationResult]]] = []

    transformers = TransformersBackend(str(model), sampling, batch_size=args.batch_size)
    transformers.setup()
    timed(transformers, requests[:2], one_at_a_time=False)  # warm-up
    for name, one in (("naive loop", True), ("transformers", False)):
        seconds, results = timed(transformers, requests, one)
        rows.append((name, seconds, 0.0, results))

    started = time.perf_counter()
    vllm = VLLMBackend(str(model), sampling, device="cpu", max_images=1, dtype="float32", max_model_len=1024)
    vllm.setup()
    startup = time.perf_counter() - started
    timed(vllm, requests[:2], one_at_a_time=False)  # warm-up
    seconds, results = timed(vllm, requests, one_at_a_time=False)
    rows.append(("vllm", seconds, startup, results))

    naive_seconds = rows[0][1]
    print(f"{args.frames} frames, {args.family} small, greedy, max {args.max_new_tokens} new tokens, CPU")
    print(f"{'arm':<14}{'seconds':>9}{'frames/s':>10}{'out tok/s':>11}{'x naive':>9}{'errors':>8}{'startup s':>11}")
    for name, secs, start, results in rows:
        tokens = sum(r.n_output_tokens for r in results)
        errors = sum(r.status != "ok" for r in results)
        print(
            f"{name:<14}{secs:>9.2f}{len(results) / secs:>10.2f}{tokens / secs:>11.1f}"
            f"{naive_seconds / secs:>9.2f}{errors:>8}{start:>11.1f}"
        )
    same = sum(a.token_ids == b.token_ids for a, b in zip(rows[0][3], rows[2][3]))
    print(f"vllm greedy ids equal to the naive loop's on {same}/{len(requests)} frames")


if __name__ == "__main__":
    main()
