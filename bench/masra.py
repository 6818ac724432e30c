"""``masra`` beside its base at Charades-STA scale, on CPU: training epoch time, peak memory and
inference latency, each printed as a ratio of the base's (targets: epoch <= 1.5x, latency
within 20%: MASRA's alignment heads and its mismatched-pair pass are training-only).

Synthetic arrays of the real shapes (``bench/train_epoch.py``'s ``SyntheticCharades``: 12,404
train queries, 30 s videos of 128 x 1024-d snippets, ~10 x 384-d query tokens), plus MASRA's
training priors: 5 events per video (384-d description vectors, random spans) and 15 clip
captions (2 s windows). Each arm gets only the fields its model reads (``required_keys`` +
``loss_keys``, as the real dataset loads them), through the real ``collate`` and ``train_epoch``
(the config's optimiser, clipping and schedule) with its shipped config: ``span`` and ``masra``
(span base) from ``configs/{span,masra}_charades.yaml``, ``qd_detr`` and ``masra-qd`` (MASRA's
defaults on the qd_detr base) from ``configs/qd_detr_charades.yaml``. Batches are shuffled
queries for every arm (``optim.batch_size`` of them: 16 for span, 12 for the DETR pair), the
same for a method and its base.

Each arm runs in its own process (peak RSS is per process), the arms alternate over
``--repeats`` and medians are reported. Training is timed over ``--steps`` steps after 5
warm-up steps and extrapolated to the epoch; CPU time is printed beside wall time (on a shared
machine wall time is inflated by other processes; with one thread CPU time is what an idle core
would take). Latency: one query per call, ``collate`` + forward + top-5 decoding, eval mode.

    python bench/masra.py [--arms span masra qd_detr masra-qd] [--steps 60] [--repeats 3] [--threads 1]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from inference import latency_ms  # noqa: E402
from train_epoch import DT, DV, N_QUERIES, SyntheticCharades, peak_rss_mib  # noqa: E402

from grounding.config import load_config  # noqa: E402
from grounding.data.collate import collate  # noqa: E402
from grounding.data.fields import META_KEYS  # noqa: E402
from grounding.data.targets import TargetConfig  # noqa: E402
from grounding.models import build_model  # noqa: E402
from grounding.train import make_optimizer, make_scheduler, train_epoch  # noqa: E402

ARMS = {  # arm -> (config, model overrides, what it is compared with)
    "span": ("configs/span_charades.yaml", {}, None),
    "masra": ("configs/masra_charades.yaml", {}, "span"),
    "qd_detr": ("configs/qd_detr_charades.yaml", {}, None),  # MESM's recipe for QD-DETR, 12 a batch
    "masra-qd": ("configs/qd_detr_charades.yaml", {"name": "masra", "base": "qd_detr"}, "qd_detr"),
}
N_EVENTS, CLIP_LEN, DURATION = 5, 2.0, 30.0
TARGET_EPOCH, TARGET_LATENCY = 1.5, 1.2


class SyntheticPriors(SyntheticCharades):
    """``SyntheticCharades`` items with events and clip captions and the model's own labels
    (``maker``, its ``target_maker``), restricted to ``fields``."""

    def __init__(
        self, fields: tuple[str, ...], maker: Any = None, n: int = N_QUERIES, pool: int = 256, seed: int = 0
    ) -> None:
        super().__init__(n=n, pool=pool, seed=seed)
        self.maker = maker
        rng = np.random.default_rng(seed + 1)
        self.fields = set(fields) | set(META_KEYS) | {"duration"}
        self.events = rng.normal(size=(pool, N_EVENTS, DT)).astype(np.float32)
        starts = rng.uniform(0, DURATION - 4, size=(pool, N_EVENTS))
        self.event_spans = np.stack([starts, starts + rng.uniform(2, 12, size=starts.shape)], -1).astype(np.float32)
        n_clips = int(DURATION / CLIP_LEN)
        self.captions = rng.normal(size=(pool, n_clips, DT)).astype(np.float32)
        self.caption_spans = np.stack([np.arange(n_clips) * CLIP_LEN, (np.arange(n_clips) + 1) * CLIP_LEN], -1).astype(
            np.float32
        )

    def __getitem__(self, i: int) -> dict:
        p = i % len(self.video)
        item = super().__getitem__(i) | {
            "events": self.events[p],
            "event_spans": self.event_spans[p],
            "clip_captions": self.captions[p],
            "clip_caption_spans": self.caption_spans,
        }
        if self.maker is not None:
            item |= self.maker(item["windows"], item["duration"], len(item["video"]))
        return {k: v for k, v in item.items() if k in self.fields}


def run_arm(arm: str, steps: int, threads: int, repeat: int) -> dict:
    """One arm in this process: train ``steps`` steps (after 5 warm-up steps), then latency."""
    torch.set_num_threads(threads)
    torch.manual_seed(0)
    path, overrides, _ = ARMS[arm]
    cfg = load_config(Path(path), {"device": "cpu", "model": overrides})
    model = build_model(cfg.model.name, **{**cfg.model.validated().model_dump(), "video_dim": DV, "text_dim": DT})
    data = SyntheticPriors((*model.required_keys, *model.loss_keys), model.target_maker(TargetConfig()))
    bs = cfg.optim.batch_size
    optimizer = make_optimizer(model, cfg)
    total = -(-len(data) // bs)
    scheduler = make_scheduler(optimizer, cfg, total * cfg.optim.epochs)
    warm = torch.utils.data.Subset(data, range(5 * bs))
    train_epoch(
        model,
        torch.utils.data.DataLoader(warm, bs, collate_fn=collate),
        optimizer,
        scheduler,
        cfg,
        torch.device("cpu"),
        progress=False,
    )
    subset = torch.utils.data.Subset(data, range(steps * bs))
    loader = torch.utils.data.DataLoader(subset, bs, shuffle=True, collate_fn=collate)
    t0, c0 = time.perf_counter(), time.process_time()
    stats = train_epoch(model, loader, optimizer, scheduler, cfg, torch.device("cpu"), progress=False)
    wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    model.eval()
    infer = SyntheticPriors(model.required_keys, n=64, pool=64, seed=repeat + 7)
    items = [infer[i] for i in range(64)]
    latency_ms(model, items, 5)  # warm-up
    lat, lat_cpu = latency_ms(model, items, 50)
    return {
        "arm": arm,
        "params": sum(p.numel() for p in model.parameters()),
        "steps": steps,
        "epoch_s": wall * total / steps,
        "cpu_epoch_s": cpu * total / steps,
        "peak_rss_mib": peak_rss_mib(),
        "latency_ms": statistics.median(lat),
        "latency_cpu_ms": statistics.median(lat_cpu),
        "losses": sorted(k for k in stats if k.startswith("loss/")),
        "load": os.getloadavg()[0],
    }


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--arms", nargs="+", default=["span", "masra"], choices=list(ARMS))
    p.add_argument("--steps", type=int, default=60, help="training steps timed per run (extrapolated to the epoch)")
    p.add_argument("--repeats", type=int, default=3, help="alternating runs of every arm")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--arm", help=argparse.SUPPRESS)  # internal: run one arm, print JSON
    p.add_argument("--repeat-index", type=int, default=0, help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.arm:
        print(json.dumps(run_arm(args.arm, args.steps, args.threads, args.repeat_index)))
        return
    runs: dict[str, list[dict]] = {a: [] for a in args.arms}
    print(
        f"Charades-STA scale: {N_QUERIES} queries, 128x{DV} video, ~10x{DT} tokens, {N_EVENTS} events and "
        f"{int(DURATION / CLIP_LEN)} clip captions per video; torch {torch.__version__}, {args.threads} thread(s), "
        f"{args.steps} steps x {args.repeats} alternating runs per arm, load avg {os.getloadavg()[0]:.1f}"
    )
    for r in range(args.repeats):
        for arm in args.arms if r % 2 == 0 else args.arms[::-1]:
            cmd = [
                sys.executable,
                __file__,
                "--arm",
                arm,
                "--steps",
                str(args.steps),
                "--threads",
                str(args.threads),
                "--repeat-index",
                str(r),
            ]
            out = subprocess.run(
                cmd, capture_output=True, text=True, check=True, cwd=Path(__file__).resolve().parents[1]
            )
            runs[arm].append(json.loads(out.stdout.strip().splitlines()[-1]))
    keys = ("epoch_s", "cpu_epoch_s", "peak_rss_mib", "latency_ms", "latency_cpu_ms", "load")
    med = {a: {k: statistics.median(run[k] for run in rs) for k in keys} for a, rs in runs.items()}
    best = {a: {k: min(run[k] for run in rs) for k in keys} for a, rs in runs.items()}
    for arm, m in med.items():
        first = runs[arm][0]
        print(
            f"{arm:8s} params={first['params']:,}: epoch {m['epoch_s']:.1f} s (CPU {m['cpu_epoch_s']:.1f} s), "
            f"peak RSS {m['peak_rss_mib']:.0f} MiB, latency median {m['latency_ms']:.2f} ms "
            f"(CPU {m['latency_cpu_ms']:.2f} ms), load {m['load']:.1f}; losses: {', '.join(first['losses'])}"
        )
        print(
            f"{'':8s} per run: CPU epoch s "
            + ", ".join(f"{r['cpu_epoch_s']:.1f}" for r in runs[arm])
            + "; CPU latency ms "
            + ", ".join(f"{r['latency_cpu_ms']:.2f}" for r in runs[arm])
        )
    for arm in args.arms:
        base = ARMS[arm][2]
        if base not in med:
            continue
        for name, stat in (("medians", med), ("best of runs", best)):
            a, b = stat[arm], stat[base]
            epoch, cpu = a["epoch_s"] / b["epoch_s"], a["cpu_epoch_s"] / b["cpu_epoch_s"]
            lat, lat_cpu = a["latency_ms"] / b["latency_ms"], a["latency_cpu_ms"] / b["latency_cpu_ms"]
            print(
                f"{arm} / {base} ({name}): epoch {epoch:.2f}x (CPU {cpu:.2f}x; target <= {TARGET_EPOCH}x), "
                f"peak RSS {a['peak_rss_mib'] / b['peak_rss_mib']:.2f}x, latency {lat:.2f}x "
                f"(CPU {lat_cpu:.2f}x; target <= {TARGET_LATENCY}x)"
            )


if __name__ == "__main__":
    main()
