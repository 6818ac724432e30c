"""GranAlign's scorer throughput on one CPU core, once the vectors are loaded (target: 1,000
queries/s; issue 12). Not a test: it prints the measured rate and its ratio to the target.

Shapes are QVHighlights': 75 query-agnostic captions per video (one per 2 s clip), m = 3 rewrite
pairs, 15 query-aware captions (the top 20 % of frames, notes #5), 384-d MiniLM vectors, 10
windows per query and 75 saliency scores. Vectors are random (the scorer's cost does not depend
on their values; the threshold and merge steps see random curves, which make more proposals
than real ones). Three paths, side by side in one run:

- ``core``: ``grounding.models.granalign.score_query`` on numpy arrays (Step D + Steps E-F) plus
  the saliency on the clip grid: the scorer itself;
- ``model``: what ``grounding-eval`` runs per batch once the dataset items are in memory:
  ``collate`` + ``GranAlignModel.forward`` + ``decode``;
- ``core+union``: ``core`` with ``per_curve_union`` (proposals of all 2m + 1 curves pooled).

numpy and torch are held to one thread. Wall time on a shared machine is inflated by other
processes; process CPU time is printed beside it (what one idle core would take).

    python bench/granalign.py [--queries 3000] [--batch 64] [--repeat 3]
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_var] = "1"  # before numpy loads: one core

import argparse
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from grounding.data.collate import collate
from grounding.models import build_model
from grounding.models.granalign import GranAlignConfig, score_query
from grounding.zeroshot.fusion import QueryTexts
from grounding.zeroshot.grid import frame_grid
from grounding.zeroshot.saliency import on_clip_grid

TARGET_QPS = 1_000.0
FRAMES, PAIRS, KEY_FRAMES, DIM, DURATION, STEP = 75, 3, 15, 384, 150.0, 2.0


def unit(x: np.ndarray) -> np.ndarray:
    return (x / np.linalg.norm(x, axis=-1, keepdims=True)).astype(np.float32)


def make_items(n: int, seed: int = 0) -> list[dict]:
    """Dataset items (the batch fields granalign reads) of ``n`` queries, one video each."""
    rng = np.random.default_rng(seed)
    times = np.arange(FRAMES) * STEP
    items = []
    for i in range(n):
        keys = np.sort(rng.choice(FRAMES, KEY_FRAMES, replace=False)) * STEP
        items.append(
            {
                "query_id": f"q{i}",
                "video_id": f"v{i}",
                "query": f"query {i}",
                "windows": [(0.0, 10.0)],
                "duration": DURATION,
                "narrative_frames": unit(rng.normal(size=(FRAMES, DIM))),
                "narrative_frame_spans": np.stack([times, times], axis=1).astype(np.float32),
                "rewrite_pairs": unit(rng.normal(size=(2 * PAIRS, DIM))),
                "key_frame_captions": unit(rng.normal(size=(KEY_FRAMES, DIM))),
                "key_frame_caption_spans": np.stack([keys, keys], axis=1).astype(np.float32),
                "query_sentence": unit(rng.normal(size=(1, DIM)))[0],
            }
        )
    return items


def core_call(items: list[dict], cfg: GranAlignConfig) -> Callable[[], None]:
    """Score every query with ``score_query`` + saliency, from numpy arrays."""
    prepared = []
    for it in items:
        pairs = it["rewrite_pairs"]
        prepared.append(
            (
                QueryTexts(it["query_sentence"], pairs[0::2], pairs[1::2]),
                frame_grid(it["narrative_frames"], it["narrative_frame_spans"], DURATION),
                it["key_frame_captions"],
                it["key_frame_caption_spans"][:, 0],
            )
        )

    def run() -> None:
        for texts, grid, aware, times in prepared:
            scored = score_query(texts, grid, aware, times, DURATION, cfg)
            on_clip_grid(scored.fused.curve, grid.starts, grid.ends, DURATION, cfg.clip_len)

    return run


def model_call(items: list[dict], batch: int) -> Callable[[], None]:
    model = build_model("granalign").eval()

    def run() -> None:
        with torch.inference_mode():
            for start in range(0, len(items), batch):
                model.predict(collate(items[start : start + batch]), k=10)

    return run


def rate(run: Callable[[], None], n: int, repeat: int) -> tuple[float, float]:
    """Best queries per wall second and per process-CPU second over ``repeat`` runs."""
    run()  # warm-up
    wall, cpu = [], []
    for _ in range(repeat):
        t0, c0 = time.perf_counter(), time.process_time()
        run()
        wall.append(n / (time.perf_counter() - t0))
        cpu.append(n / max(time.process_time() - c0, 1e-9))
    return max(wall), max(cpu)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--queries", type=int, default=3000)
    parser.add_argument("--batch", type=int, default=64, help="queries per model batch (the model path)")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    torch.set_num_threads(1)
    items = make_items(args.queries)
    paths = {
        "core": core_call(items, GranAlignConfig(top_k=8)),
        "model": model_call(items, args.batch),
        "core+union": core_call(items, GranAlignConfig(top_k=8, per_curve_union=True, nms_iou=0.95)),
    }
    print(
        f"granalign scorer, one core: {args.queries} queries, {FRAMES} frames, {PAIRS} pairs, {KEY_FRAMES} key "
        f"frames, {DIM}-d; best of {args.repeat}"
    )
    print(f"{'path':<12}{'q/s (wall)':>14}{'q/s (cpu)':>14}{'cpu / target':>16}")
    for name, run in paths.items():
        wall, cpu = rate(run, args.queries, args.repeat)
        verdict = "met" if cpu >= TARGET_QPS else "NOT met"
        print(f"{name:<12}{wall:>14.0f}{cpu:>14.0f}{cpu / TARGET_QPS:>15.2f}x  ({verdict}: >= {TARGET_QPS:.0f} q/s)")


if __name__ == "__main__":
    main()
