"""Epoch time and peak memory of ``span`` and ``tea`` at Charades-STA scale, on CPU.

Synthetic arrays of the real shapes: 12,404 train queries, 128 snippets x 1024-d video features,
Eq. 3-aligned 384-d narratives, ~10 query tokens x 384-d. Items go through the real ``collate``
and ``train_epoch`` (Adam, clipping, linear decay). To keep memory honest (real training holds
one batch at a time), the items cycle over a pool of ``--pool`` distinct videos.

    python bench/train_epoch.py                       # both models, full epoch, 1 and 2 threads
    python bench/train_epoch.py --steps 100 --threads 1 2

With ``--steps`` it times that many steps (after 5 warm-up steps) and extrapolates to the
epoch; the printed line says which. Peak RSS is the process's ``ru_maxrss``. Besides wall time
it prints process CPU time per epoch: on a shared machine (load average printed) wall time is
inflated by other processes, and with one thread CPU time is what an idle core would take.
"""

from __future__ import annotations

import argparse
import os
import resource
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from grounding.config import load_config  # noqa: E402
from grounding.data.collate import collate  # noqa: E402
from grounding.data.targets import make_targets  # noqa: E402
from grounding.models import build_model  # noqa: E402
from grounding.train import make_scheduler, train_epoch  # noqa: E402

N_QUERIES, L, DV, DT, LQ = 12_404, 128, 1024, 384, 10
TARGET_EPOCH_S = 60.0  # issue 4: <= 60 s per epoch on the 2 CPU cores


class SyntheticCharades(torch.utils.data.Dataset):
    """``n`` items of Charades-STA shapes; videos and narratives come from a pool of ``pool``."""

    def __init__(self, n: int = N_QUERIES, pool: int = 256, seed: int = 0, length: int = L) -> None:
        rng = np.random.default_rng(seed)
        self.n, self.length = n, length
        self.video = rng.normal(size=(pool, length, DV)).astype(np.float32)
        self.narr = rng.normal(size=(pool, length, DT)).astype(np.float32)
        self.tokens = rng.normal(size=(pool, LQ + 4, DT)).astype(np.float32)
        self.windows = rng.uniform(0, 20, size=(n, 1))
        self.lengths = rng.integers(6, LQ + 5, size=n)

    def __len__(self) -> int:
        return self.n

    def __getitem__(self, i: int) -> dict:
        p = i % len(self.video)
        duration = 30.0
        s = float(self.windows[i, 0])
        tokens = self.tokens[p, : self.lengths[i]]
        item = {
            "query_id": str(i),
            "video_id": f"v{p}",
            "query": "q",
            "windows": [(s, s + 8.0)],
            "video": self.video[p],
            "duration": duration,
            "query_tokens": tokens,
            "query_sentence": tokens.mean(0),
            "narratives": self.narr[p],
            "narrative_mask": np.ones(self.length, bool),
        }
        item.update(make_targets(item["windows"], duration, self.length))
        return item


def peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def bench(model_name: str, data: SyntheticCharades, threads: int, steps: int | None, batch_size: int) -> dict:
    torch.set_num_threads(threads)
    torch.manual_seed(0)
    cfg = load_config(
        Path("configs") / f"{model_name}_charades.yaml", {"optim": {"batch_size": batch_size}, "device": "cpu"}
    )
    model = build_model(model_name, **{**cfg.model.validated().model_dump(), "video_dim": DV, "text_dim": DT})
    optimizer = torch.optim.Adam(model.parameters(), lr=cfg.optim.lr)
    total = -(-len(data) // batch_size)
    scheduler = make_scheduler(optimizer, cfg, total * cfg.optim.epochs)
    warm = torch.utils.data.Subset(data, range(5 * batch_size))
    train_epoch(
        model,
        torch.utils.data.DataLoader(warm, batch_size, collate_fn=collate),
        optimizer,
        scheduler,
        cfg,
        torch.device("cpu"),
        progress=False,
    )
    n_steps = total if steps is None else min(steps, total)
    subset = torch.utils.data.Subset(data, range(min(len(data), n_steps * batch_size)))
    loader = torch.utils.data.DataLoader(subset, batch_size, shuffle=True, collate_fn=collate)
    t0, c0 = time.perf_counter(), time.process_time()
    train_epoch(model, loader, optimizer, scheduler, cfg, torch.device("cpu"), progress=False)
    seconds, cpu = time.perf_counter() - t0, time.process_time() - c0
    return {
        "model": model_name,
        "threads": threads,
        "batch": batch_size,
        "steps_timed": n_steps,
        "ms_per_step": 1000 * seconds / n_steps,
        "epoch_s": seconds * total / n_steps,
        "cpu_epoch_s": cpu * total / n_steps,
        "load": os.getloadavg()[0],
        "extrapolated": n_steps < total,
        "params": sum(p.numel() for p in model.parameters()),
        "peak_rss_mib": peak_rss_mib(),
    }


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--models", nargs="+", default=["span", "tea"])
    p.add_argument("--threads", nargs="+", type=int, default=sorted({1, torch.get_num_threads()}))
    p.add_argument("--steps", type=int, help="time this many steps and extrapolate (default: the full epoch)")
    p.add_argument("--batch-size", type=int, default=16)
    p.add_argument("--pool", type=int, default=256, help="distinct synthetic videos")
    p.add_argument("--length", type=int, default=L, help="snippets per video (128: TEA's cap)")
    args = p.parse_args()
    data = SyntheticCharades(pool=args.pool, length=args.length)
    print(
        f"Charades-STA scale: {N_QUERIES} queries, {args.length}x{DV} video, {args.length}x{DT} narratives, "
        f"~{LQ}x{DT} tokens; "
        f"torch {torch.__version__}, {torch.get_num_threads()} default threads"
    )
    for name in args.models:
        for threads in args.threads:
            r = bench(name, data, threads, args.steps, args.batch_size)
            kind = f"extrapolated from {r['steps_timed']} steps" if r["extrapolated"] else "full epoch"
            print(
                f"{r['model']:5s} threads={r['threads']} batch={r['batch']} params={r['params']:,}: "
                f"{r['ms_per_step']:.1f} ms/step, epoch {r['epoch_s']:.1f} s ({kind}) = "
                f"{r['epoch_s'] / TARGET_EPOCH_S:.2f}x the {TARGET_EPOCH_S:.0f} s target, "
                f"CPU time {r['cpu_epoch_s']:.1f} s/epoch, peak RSS {r['peak_rss_mib']:.0f} MiB, "
                f"load avg {r['load']:.1f}"
            )


if __name__ == "__main__":
    main()
