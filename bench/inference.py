"""Inference latency per query and batched throughput on CPU, ``span`` and ``tea``.

A query is timed end to end from its cached arrays: ``collate`` + model forward + top-k span
decoding into seconds (``grounding.inference.batch_windows``), at Charades-STA shapes (128 x
1024-d video, 128 x 384-d narratives, ~10 x 384-d query tokens), random weights, eval mode.
Latency is one query per call. Throughput is many queries per call, two ways: every query on its
own video (``collate``), and Charades-STA's test mix of 2.79 queries per video (3,720 / 1,334)
through ``collate_by_video``, as ``Predictor.predict_batch`` runs it, where a video's
query-independent layers run once for its queries.
Embedding a query that is *not* in the cache (pure-torch MiniLM, ``grounding.text_encoder``)
is timed separately, since cached queries skip it. Wall time on a shared machine is inflated by
other processes; the process CPU time (printed beside it) is what one idle core would take.

    python bench/inference.py [--threads 1 2] [--batch 32 256] [--repeat 50]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from train_epoch import DT, DV, SyntheticCharades  # noqa: E402

from grounding.data.collate import (
    collate,  # noqa: E402
    collate_by_video,  # noqa: E402
)
from grounding.inference import batch_windows  # noqa: E402
from grounding.models import build_model  # noqa: E402

TARGET_LATENCY_MS, TARGET_QPS = 5.0, 1_000.0  # issue 4, on CPU


@torch.inference_mode()
def latency_ms(model: torch.nn.Module, items: list[dict], repeat: int) -> tuple[list[float], list[float]]:
    """Wall and process-CPU milliseconds of each single-query call."""
    wall, cpu = [], []
    for i in range(repeat):
        t0, c0 = time.perf_counter(), time.process_time()
        batch_windows(model, collate([items[i % len(items)]]), k=5)
        wall.append(1000 * (time.perf_counter() - t0))
        cpu.append(1000 * (time.process_time() - c0))
    return wall, cpu


@torch.inference_mode()
def throughput_qps(
    model: torch.nn.Module, items: list[dict], batch: int, rounds: int, collate_fn: Callable = collate
) -> tuple[float, float]:
    """Queries per wall second and per CPU second."""
    batch_windows(model, collate_fn(items[:batch]), k=5)  # warm-up
    t0, c0 = time.perf_counter(), time.process_time()
    for _ in range(rounds):
        batch_windows(model, collate_fn(items[:batch]), k=5)
    return batch * rounds / (time.perf_counter() - t0), batch * rounds / (time.process_time() - c0)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--threads", nargs="+", type=int, default=[1, torch.get_num_threads()])
    p.add_argument("--batch", nargs="+", type=int, default=[32, 256])
    p.add_argument("--repeat", type=int, default=50)
    p.add_argument("--rounds", type=int, default=4)
    p.add_argument("--length", type=int, default=128, help="snippets per video (128: TEA's cap)")
    args = p.parse_args()
    n = max(args.batch)
    distinct = SyntheticCharades(n=n, pool=n, length=args.length)
    items = [distinct[i] for i in range(n)]  # a video per query
    data = SyntheticCharades(n=n, pool=round(n / 2.79), length=args.length, seed=1)
    shared = sorted((data[i] for i in range(n)), key=lambda it: int(it["video_id"][1:]))  # grouped by video
    print(f"CPU inference, {args.length} x {DV}-d video, torch {torch.__version__}, load avg {os.getloadavg()[0]:.1f}")
    for name in ("span", "tea"):
        model = build_model(name, video_dim=DV, text_dim=DT).eval()
        for threads in sorted(set(args.threads)):
            torch.set_num_threads(threads)
            latency_ms(model, items, 5)  # warm-up
            lat, cpu = latency_ms(model, items, args.repeat)
            own = {b: throughput_qps(model, items, b, args.rounds) for b in args.batch}
            grouped = {b: throughput_qps(model, shared, b, args.rounds, collate_by_video) for b in args.batch}
            best = max(wall for wall, _ in [*own.values(), *grouped.values()])
            qps = ", ".join("batch {}: {:,.0f} ({:,.0f} per CPU-s)".format(b, *r) for b, r in own.items())
            qps += "; 2.79 queries/video, collate_by_video: " + ", ".join(
                "batch {}: {:,.0f} ({:,.0f} per CPU-s)".format(b, *r) for b, r in grouped.items()
            )
            qps += f"; best {best:,.0f} = {best / TARGET_QPS:.2f}x the {TARGET_QPS:,.0f} queries/s target"
            print(
                f"{name:5s} threads={threads}: latency median {statistics.median(lat):.2f} ms "
                f"(CPU {statistics.median(cpu):.2f} ms) = {statistics.median(lat) / TARGET_LATENCY_MS:.2f}x the "
                f"{TARGET_LATENCY_MS:.0f} ms target, p90 {sorted(lat)[int(0.9 * len(lat))]:.2f} ms; "
                f"throughput queries/s {qps}"
            )
    from grounding.text_encoder import MiniLMQueryEncoder

    torch.set_num_threads(1)
    encoder = MiniLMQueryEncoder()
    encoder.encode(["warm up"])
    t = []
    for i in range(20):
        t0 = time.perf_counter()
        encoder.encode([f"person turns on the light number {i}"])
        t.append(1000 * (time.perf_counter() - t0))
    print(
        f"new-query embedding (pure-torch MiniLM, 1 thread): median {statistics.median(t):.2f} ms per query "
        "(cached queries skip this)"
    )


if __name__ == "__main__":
    main()
