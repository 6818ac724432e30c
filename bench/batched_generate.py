"""Batched ``generate`` against TEA's one-frame-at-a-time loop, same model, same frames, one run.

Both arms use the transformers backend on the same random-weight model (``small`` scale of
``pipeline.demo.tiny_models``: a 4-layer, 256-wide language model with a 30k vocabulary and a
2-layer vision tower) and the same ``narrate_frame`` requests, greedy, a fixed token budget.
The naive arm calls ``generate`` with one request at a time, as TEA's narrator does; the batched
arm hands all frames over at once and lets the backend batch them. Greedy outputs must match.
The arms alternate over ``--repeats`` runs and the medians are reported.

    .venv/bin/python bench/batched_generate.py --frames 64 --batch-size 32
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from pipeline.backends import BACKENDS, GenerationRequest, SamplingConfig
from pipeline.demo.tiny_models import build_tiny_llava, build_tiny_qwen2_vl
from pipeline.prompts import load_prompt

BUILDERS = {"llava": build_tiny_llava, "qwen2_vl": build_tiny_qwen2_vl}


def frames(n: int, seed: int = 0) -> list[np.ndarray]:
    """Smooth synthetic 180x320 frames (a moving gradient), decoded-video sized."""
    rng = np.random.default_rng(seed)
    ys, xs = np.mgrid[0:180, 0:320]
    out = []
    for i in range(n):
        base = (xs + 4 * i) % 256 + rng.integers(0, 16, (180, 320))
        out.append(np.stack([base, (ys * 1.4).astype(int), 255 - base], axis=-1).clip(0, 255).astype(np.uint8))
    return out


def timed(backend, requests: list[GenerationRequest], one_at_a_time: bool) -> tuple[float, list]:  # noqa: ANN001
    started = time.perf_counter()
    results = [backend.generate([r])[0] for r in requests] if one_at_a_time else backend.generate(requests)
    return time.perf_counter() - started, results


def median_run(runs: list[tuple[float, list]]) -> tuple[float, list]:
    return sorted(runs, key=lambda run: run[0])[len(runs) // 2]


def run(family: str, folder: Path, args: argparse.Namespace) -> None:
    sampling = SamplingConfig(temperature=0.0, max_new_tokens=args.max_new_tokens)
    prompt = load_prompt("narrate_frame").render()
    requests = [GenerationRequest(key=str(i), prompt=prompt, images=[f]) for i, f in enumerate(frames(args.frames))]
    backend = BACKENDS.get("transformers")(str(folder), sampling, batch_size=args.batch_size)
    backend.setup()
    backend.generate(requests[:2])  # warm-up: first-call allocations are not part of either arm
    naive_runs, batched_runs = [], []
    for repeat in range(args.repeats):  # alternate which arm goes first: a shared machine's load drifts
        for one_at_a_time in (True, False) if repeat % 2 == 0 else (False, True):
            (naive_runs if one_at_a_time else batched_runs).append(timed(backend, requests, one_at_a_time))
    naive_s, naive = median_run(naive_runs)
    batched_s, batched = median_run(batched_runs)
    same = [r.token_ids for r in naive] == [r.token_ids for r in batched]
    out_tokens = sum(r.n_output_tokens for r in batched)
    n = len(requests)
    print(
        f"\n{family} (scale={args.scale}), {n} frames, {batched[0].n_prompt_tokens} prompt tokens each, "
        f"{out_tokens / n:.1f} output tokens per frame, torch threads {torch.get_num_threads()}"
    )
    print(f"  {'arm':<28}{'seconds':>9}{'frames/s':>10}")
    print(f"  {'one frame at a time (TEA)':<28}{naive_s:>9.2f}{n / naive_s:>10.2f}")
    print(f"  {f'batched (batch {args.batch_size})':<28}{batched_s:>9.2f}{n / batched_s:>10.2f}")
    print(
        f"  speed-up {naive_s / batched_s:.1f}x (target >= 5x), medians of {args.repeats} alternating runs; "
        f"greedy token ids identical: {same}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--family", choices=[*sorted(BUILDERS), "all"], default="all")
    parser.add_argument("--frames", type=int, default=64)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--max-new-tokens", type=int, default=32)
    parser.add_argument("--scale", choices=["tiny", "small"], default="small")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, default=1, help="torch CPU threads for both arms")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    families = sorted(BUILDERS) if args.family == "all" else [args.family]
    with tempfile.TemporaryDirectory() as tmp:
        for family in families:
            run(family, BUILDERS[family](Path(tmp) / family, scale=args.scale), args)


if __name__ == "__main__":
    main()
