"""Inference latency per query and batched throughput of ``mesm`` (and ``qd_detr``) beside
``span``, at Charades-STA shapes, random weights, eval mode, in one run.

A query is timed end to end from its cached arrays: ``collate`` + forward + decoding into seconds
(``grounding.inference.batch_windows``: top-10 windows by foreground probability for the DETR
models, top-5 spans for span). Latency is one query per call; throughput is many queries per
call at Charades-STA's test mix of 2.79 queries per video (3,720 / 1,334) through
``collate_by_video``, as ``Predictor.predict_batch`` runs it (the video projection once per
video). Models use their shipped Charades configs (mesm / qd_detr: hidden 256, MESM's sizes).
Process CPU time is printed beside wall time (on a shared machine wall time is inflated).

    python bench/detr_inference.py [--models span qd_detr mesm] [--threads 1] [--batch 32] [--repeat 30]
    python bench/detr_inference.py --device cuda --amp
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from grounding.config import load_config  # noqa: E402
from grounding.data.collate import collate, collate_by_video, to_device  # noqa: E402
from grounding.inference import batch_windows  # noqa: E402
from grounding.models import build_model  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
from detr_epoch import charades_shape_models, fill_fields  # noqa: E402

L, DV, DT, LQ, Q_PER_VIDEO = 128, 1_026, 384, 10, 2.79


def make_items(n: int, seed: int = 0) -> list[dict]:
    """``n`` test-like queries, ~2.79 per video, with every field the three models read."""
    rng = np.random.default_rng(seed)
    n_videos = max(1, round(n / Q_PER_VIDEO))
    videos = rng.normal(size=(n_videos, L, DV)).astype(np.float32)
    items = []
    for i in range(n):
        v = i * n_videos // n
        n_tok = int(rng.integers(6, LQ + 5))
        tokens = rng.normal(size=(n_tok, DT)).astype(np.float32)
        item = {
            "query_id": str(i),
            "video_id": f"v{v}",
            "query": "q",
            "windows": [],
            "duration": 30.0,
            "video": videos[v],
            "query_tokens": tokens,
            "query_sentence": tokens.mean(0),
        }
        items.append(fill_fields(item, rng, L))  # context, narratives, other models' priors
    return items


def build(name: str, device: torch.device) -> torch.nn.Module:
    shipped = Path("configs") / f"{name}_charades.yaml"
    cfg = load_config(shipped if shipped.is_file() else None, {"model": {"name": name}})
    torch.manual_seed(0)
    return (
        build_model(name, **{**cfg.model.validated().model_dump(), "video_dim": DV, "text_dim": DT}).to(device).eval()
    )


@torch.inference_mode()
def timed(
    model: torch.nn.Module, batches: list[list[dict]], collate_fn, device: torch.device, amp: bool
) -> tuple[list[float], list[float]]:  # noqa: ANN001
    wall, cpu = [], []
    for items in batches:
        t0, c0 = time.perf_counter(), time.process_time()
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=amp and device.type == "cuda"):
            batch_windows(model, to_device(collate_fn(items), device), k=10)
        if device.type == "cuda":
            torch.cuda.synchronize()
        wall.append(time.perf_counter() - t0)
        cpu.append(time.process_time() - c0)
    return wall, cpu


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--models", nargs="+", default=["span", "qd_detr", "mesm"], help="'all': every trainable model")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--batch", type=int, default=32)
    p.add_argument("--repeat", type=int, default=30, help="single-query calls timed")
    p.add_argument("--rounds", type=int, default=4, help="batches timed")
    p.add_argument("--device", default="cpu")
    p.add_argument("--amp", action="store_true")
    args = p.parse_args()
    args.models = charades_shape_models(args.models)
    torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    items = make_items(max(args.repeat, args.batch * args.rounds))
    print(
        f"Charades-STA shapes ({L}x{DV} video, ~{LQ}x{DT} tokens, {Q_PER_VIDEO} queries/video batched); "
        f"device {args.device}, amp {args.amp}, threads {args.threads}, load {os.getloadavg()[0]:.1f}",
        flush=True,
    )
    results = {}
    for name in args.models:
        model = build(name, device)
        timed(model, [items[:1], items[: args.batch]], collate_by_video, device, args.amp)  # warm-up
        wall, cpu = timed(model, [[it] for it in items[: args.repeat]], collate, device, args.amp)
        bwall, bcpu = timed(
            model,
            [items[r * args.batch : (r + 1) * args.batch] for r in range(args.rounds)],
            collate_by_video,
            device,
            args.amp,
        )
        n = args.batch * args.rounds
        results[name] = {
            "lat_ms": 1000 * statistics.median(wall),
            "lat_cpu_ms": 1000 * statistics.median(cpu),
            "qps": n / sum(bwall),
            "qps_cpu": n / max(1e-9, sum(bcpu)),
        }
        r = results[name]
        print(
            f"{name:8s} latency median {r['lat_ms']:7.1f} ms (CPU {r['lat_cpu_ms']:7.1f} ms); batch {args.batch}: "
            f"{r['qps']:7.1f} queries/s (per CPU s {r['qps_cpu']:7.1f}); "
            f"params {sum(q.numel() for q in model.parameters()):,}",
            flush=True,
        )
    if "span" in results:
        for name in results:
            if name != "span":
                a, b = results[name], results["span"]
                print(
                    f"  {name} / span: latency {a['lat_cpu_ms'] / b['lat_cpu_ms']:.2f}x, "
                    f"throughput {a['qps_cpu'] / b['qps_cpu']:.2f}x (CPU time)"
                )


if __name__ == "__main__":
    main()
