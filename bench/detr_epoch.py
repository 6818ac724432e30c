"""Training epoch time and peak memory of ``qd_detr`` and ``mesm`` beside ``span`` / ``tea`` at
Charades-STA scale, on one device, in one run (ratios are what compare across machines).

Synthetic arrays of the real shapes: 12,404 train queries over 5,336 videos (2.32 queries per
video, as Charades-STA train), 128 snippets x 1,026-d video (1,024 + the 2-d endpoint feature),
~10 x 384-d query tokens with their ids, the other queries' sentence vectors as context, 384-d
Eq. 3 narratives (tea). Items go through the real target makers, ``collate`` /
``collate_by_video``, the real samplers (``make_loader``) and ``train_epoch`` with each model's
shipped Charades config (configs/<model>_charades.yaml; qd_detr / mesm: MESM's recipe, 12 videos
a batch). Each (model, batching) arm runs in its own process, so its peak RSS (CPU) or peak
allocated memory (CUDA) is its own; ``--steps N`` times N steps after 3 warm-up steps and
extrapolates to the epoch.

Arms: ``queries`` (shuffled queries, 16 a batch: span / tea today), ``videos`` (whole videos,
7 a batch for span / tea, ~16 queries; 12 for the DETR models) and ``videos+share`` (the same,
each video held once so the query-independent video layers run once per video).

The reference anchor (the issue): the released MESM code on arrays of this shape took about
1,360 s per epoch with a 3.7 GB peak on this machine kind; the target is mesm >= 3x faster. With
``--profile`` the mesm arm also prints the operators that take the time.

    python bench/detr_epoch.py --steps 20                        # span, tea, qd_detr, mesm on CPU
    python bench/detr_epoch.py --models span tea --arms queries videos videos+share --steps 30
    python bench/detr_epoch.py --device cuda --amp --steps 50    # bf16 autocast on a GPU
    python bench/detr_epoch.py --models mesm --arms videos --precisions fp32 bf16   # CPU bf16 vs fp32
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

N_QUERIES, N_VIDEOS, L, DV, DT, LQ = 12_404, 5_336, 128, 1_026, 384, 10
ANCHOR_EPOCH_S, ANCHOR_PEAK_GB = 1_360.0, 3.7  # released MESM code, this machine kind (the issue)


class SyntheticCharadesVideos(torch.utils.data.Dataset):
    """Charades-STA-shaped items grouped by video; arrays come from a pool of ``pool`` videos so
    memory stays what one batch holds, while every video id is distinct."""

    def __init__(
        self,
        maker,
        n: int = N_QUERIES,
        n_videos: int = N_VIDEOS,
        pool: int = 256,  # noqa: ANN001
        length: int = L,
        seed: int = 0,
    ) -> None:
        rng = np.random.default_rng(seed)
        self.n, self.length, self.maker, self.pool = n, length, maker, pool
        self.video_of = (np.arange(n) * n_videos) // n
        self.rows = [{"video_id": f"v{v}"} for v in self.video_of]
        self.video = rng.normal(size=(pool, length, DV)).astype(np.float32)
        self.narr = rng.normal(size=(pool, length, DT)).astype(np.float32)
        self.tokens = rng.normal(size=(pool, LQ + 4, DT)).astype(np.float32)
        self.ids = rng.integers(1000, 3000, size=(n, LQ + 4))
        self.lengths = rng.integers(6, LQ + 5, size=n)
        self.starts = rng.uniform(0, 20, size=n)

    def __len__(self) -> int:
        return self.n

    def __getitem__(self, i: int) -> dict:
        v = int(self.video_of[i])
        p = v % self.pool
        n_tok = int(self.lengths[i])
        tokens = self.tokens[i % self.pool, :n_tok]
        mates = [j for j in range(max(0, i - 3), min(self.n, i + 4)) if j != i and self.video_of[j] == v]
        windows = [(float(self.starts[i]), float(self.starts[i]) + 8.0)]
        item = {
            "query_id": str(i),
            "video_id": f"v{v}",
            "query": "q",
            "windows": windows,
            "duration": 30.0,
            "video": self.video[p],
            "query_tokens": tokens,
            "query_sentence": tokens.mean(0),
            "query_token_ids": self.ids[i, :n_tok].astype(np.int64),
            "context": self.tokens[[j % self.pool for j in mates], 0].reshape(-1, DT),
            "narratives": self.narr[p],
            "narrative_mask": np.ones(self.length, bool),
        }
        item = fill_fields(item, np.random.default_rng(i % self.pool), self.length)
        return item | self.maker(windows, 30.0, self.length)


def charades_shape_models(requested: list[str]) -> list[str]:
    """``requested`` (``["all"]``: every trainable model) without the spatio-temporal ones, which
    need STVG data, each named on stdout as it is left out (shared with detr_inference.py)."""
    from grounding.models import MODELS

    names = [m for m in MODELS.names() if MODELS.get(m).trainable] if requested == ["all"] else list(requested)
    for m in [m for m in names if MODELS.get(m).model_cls.boxes]:
        print(f"{m}: spatio-temporal (boxes on STVG data), not run at Charades-STA shape; see bench/bridge_stg.py")
        names.remove(m)
    return names


def fill_fields(item: dict, rng: np.random.Generator, length: int) -> dict:
    """Every registered input field the item lacks, as random arrays of its layout (priors of
    other models: narratives, captions, events, rewrites ...), so every model can run."""
    from grounding.data.fields import FIELDS

    for spec in FIELDS.values():
        if spec.is_label or spec.name in item or spec.layout == "scalar":
            continue
        if spec.dtype == "int64":
            item[spec.name] = rng.integers(1000, 3000, size=len(item["query_tokens"]))
            continue
        rows = {"snippets": length, "tokens": len(item["query_tokens"]), "set": 3}.get(spec.layout)
        item[spec.name] = rng.normal(size=(rows, DT) if rows else (DT,)).astype(np.float32)
        if spec.mask and spec.mask_kind == "item":
            item[spec.mask] = np.ones(length, bool)
        if spec.spans:
            item[spec.spans] = np.array([[0.0, 10.0], [10.0, 20.0], [20.0, 30.0]], np.float32)
    return item


def peak_memory_gb(device: torch.device) -> float:
    if device.type == "cuda":
        return torch.cuda.max_memory_allocated(device) / 2**30
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20


def run_arm(
    model_name: str, arm: str, steps: int | None, device_name: str, amp: bool, threads: int, profile: bool
) -> dict:
    from grounding.config import load_config
    from grounding.data.targets import TargetConfig
    from grounding.models import build_model
    from grounding.train import make_loader, make_optimizer, make_scheduler, train_epoch

    torch.set_num_threads(threads)
    torch.manual_seed(0)
    device = torch.device(device_name)
    videos = arm != "queries"
    batch = (12 if model_name in ("qd_detr", "mesm") else 7) if videos else 16
    shipped = Path("configs") / f"{model_name}_charades.yaml"
    cfg = load_config(
        shipped if shipped.is_file() else None,
        {"model": {"name": model_name}}
        | {
            "optim": {"batch_size": batch},
            "device": device_name,
            "amp": amp,
            "amp_cpu": amp,
            "data": {"video_batches": videos, "share_videos": arm == "videos+share"},
        },
    )
    args = {**cfg.model.validated().model_dump(), "video_dim": DV, "text_dim": DT}
    model = build_model(model_name, **args).to(device)
    if hasattr(model, "vocab"):  # what fit_data would learn: here the 1,111 smallest synthetic ids
        model.vocab.copy_(torch.arange(1000, 1000 + model.vocab.numel()))
    data = SyntheticCharadesVideos(model.target_maker(TargetConfig()))
    optimizer = make_optimizer(model, cfg)
    full = make_loader(data, cfg, shuffle_seed=0, model=model)
    total = len(full)
    scheduler = make_scheduler(optimizer, cfg, total)
    batches = list(full.batch_sampler)  # the epoch's batches as training draws them
    n_steps = total if steps is None else min(steps, total - 3)

    def loader(first: int, count: int) -> torch.utils.data.DataLoader:
        return torch.utils.data.DataLoader(
            data, batch_sampler=batches[first : first + count], collate_fn=full.collate_fn
        )

    train_epoch(model, loader(0, 3), optimizer, scheduler, cfg, device, progress=False)  # warm-up
    if device.type == "cuda":
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats(device)
    queries = sum(len(b) for b in batches[3 : 3 + n_steps])
    t0, c0 = time.perf_counter(), time.process_time()
    if profile:
        from torch.profiler import ProfilerActivity
        from torch.profiler import profile as torch_profile

        acts = [ProfilerActivity.CPU] + ([ProfilerActivity.CUDA] if device.type == "cuda" else [])
        with torch_profile(activities=acts) as prof:
            train_epoch(model, loader(3, n_steps), optimizer, scheduler, cfg, device, progress=False)
    else:
        train_epoch(model, loader(3, n_steps), optimizer, scheduler, cfg, device, progress=False)
    if device.type == "cuda":
        torch.cuda.synchronize()
    seconds, cpu = time.perf_counter() - t0, time.process_time() - c0
    out = {
        "model": model_name,
        "arm": arm,
        "threads": threads,
        "device": device_name,
        "amp": amp,
        "batch": batch,
        "steps_timed": n_steps,
        "steps_per_epoch": total,
        "queries_per_step": queries / max(1, n_steps),
        "ms_per_step": 1000 * seconds / n_steps,
        "epoch_s": seconds * total / n_steps,
        "cpu_epoch_s": cpu * total / n_steps,
        "params": sum(p.numel() for p in model.parameters()),
        "peak_gb": peak_memory_gb(device),
        "load": os.getloadavg()[0],
    }
    if profile:
        key = "self_cuda_time_total" if device.type == "cuda" else "self_cpu_time_total"
        out["profile"] = prof.key_averages().table(sort_by=key, row_limit=18, max_name_column_width=40)
    return out


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument(
        "--models",
        nargs="+",
        default=["span", "tea", "qd_detr", "mesm"],
        help="registered trainable models ('all': every one)",
    )
    p.add_argument(
        "--arms",
        nargs="+",
        default=None,
        choices=["queries", "videos", "videos+share"],
        help="default: span / tea queries and videos+share; qd_detr / mesm videos and videos+share",
    )
    p.add_argument("--steps", type=int, default=20, help="steps timed per arm, extrapolated (0: the full epoch)")
    p.add_argument("--device", default="cpu")
    p.add_argument("--amp", action="store_true", help="bf16 autocast (on CPU too: training's amp_cpu)")
    p.add_argument(
        "--precisions",
        nargs="+",
        choices=["fp32", "bf16"],
        help="run every arm at each (default: fp32, or bf16 with --amp); both print the bf16 / fp32 ratios",
    )
    p.add_argument("--threads", type=int, default=torch.get_num_threads())
    p.add_argument("--profile", action="store_true", help="operator profile of the mesm arm(s)")
    p.add_argument("--out", type=Path, help="also write the results as JSON lines")
    p.add_argument("--_arm", nargs=2, help=argparse.SUPPRESS)  # internal: run one arm in this process
    args = p.parse_args()
    steps = None if args.steps == 0 else args.steps
    args.models = charades_shape_models(args.models)
    if args._arm:
        model, arm = args._arm
        result = run_arm(model, arm, steps, args.device, args.amp, args.threads, args.profile and model == "mesm")
        print("RESULT " + json.dumps(result))
        return
    print(
        f"Charades-STA scale: {N_QUERIES} queries / {N_VIDEOS} videos, {L}x{DV} video, ~{LQ}x{DT} tokens; "
        f"device {args.device}, amp {args.amp}, threads {args.threads}, torch {torch.__version__}; "
        f"load average {os.getloadavg()[0]:.1f}",
        flush=True,
    )
    precisions = args.precisions or (["bf16"] if args.amp else ["fp32"])
    results = []
    for model in args.models:
        arms = args.arms or (
            ["videos", "videos+share"] if model in ("qd_detr", "mesm") else ["queries", "videos+share"]
        )
        for arm, precision in [(a, p) for a in arms for p in precisions]:
            cmd = (
                [
                    sys.executable,
                    __file__,
                    "--_arm",
                    model,
                    arm,
                    "--steps",
                    str(args.steps),
                    "--device",
                    args.device,
                    "--threads",
                    str(args.threads),
                ]
                + (["--amp"] if precision == "bf16" else [])
                + (["--profile"] if args.profile else [])
            )
            proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
            line = next((x for x in proc.stdout.splitlines() if x.startswith("RESULT ")), None)
            if line is None:
                print(f"{model} {arm}: FAILED\n{proc.stderr[-3000:]}", flush=True)
                continue
            r = json.loads(line[7:])
            results.append(r)
            kind = (
                f"{r['steps_timed']} of {r['steps_per_epoch']} steps"
                if r["steps_timed"] < r["steps_per_epoch"]
                else "full"
            )
            print(
                f"{model:8s} {arm:13s} {precision} batch {r['batch']:2d} ({r['queries_per_step']:.1f} q/step) "
                f"{r['ms_per_step']:8.1f} ms/step  epoch {r['epoch_s']:8.1f} s ({kind}), "
                f"CPU {r['cpu_epoch_s']:8.1f} s, "
                f"peak {r['peak_gb']:.2f} GB, params {r['params']:,}, load {r['load']:.1f}",
                flush=True,
            )
            if "profile" in r:
                print(r["profile"], flush=True)
    by = {(r["model"], r["arm"]): r for r in results if r["amp"] == (precisions[0] == "bf16")}
    amp_pairs = [
        (a, b)
        for a in results
        for b in results
        if a["model"] == b["model"] and a["arm"] == b["arm"] and not a["amp"] and b["amp"]
    ]
    print("\nratios (same run):")
    for a, b in amp_pairs:
        print(
            f"  {a['model']} ({a['arm']}): bf16 autocast / fp32 = {b['epoch_s'] / a['epoch_s']:.2f}x epoch time "
            f"({b['cpu_epoch_s'] / a['cpu_epoch_s']:.2f}x CPU time), peak {b['peak_gb']:.2f} / {a['peak_gb']:.2f} GB"
        )
    for model in ("span", "tea"):
        if (model, "queries") in by and (model, "videos+share") in by:
            a, b = by[(model, "queries")], by[(model, "videos+share")]
            print(
                f"  {model}: video batches with shared videos / shuffled queries = "
                f"{b['epoch_s'] / a['epoch_s']:.2f}x epoch time ({b['cpu_epoch_s'] / a['cpu_epoch_s']:.2f}x CPU time)"
            )
        if (model, "videos") in by and (model, "videos+share") in by:
            a, b = by[(model, "videos")], by[(model, "videos+share")]
            print(
                f"  {model}: sharing videos inside video batches = {b['epoch_s'] / a['epoch_s']:.2f}x epoch time "
                f"({b['cpu_epoch_s'] / a['cpu_epoch_s']:.2f}x CPU time)"
            )
    for model in ("qd_detr", "mesm"):
        for amp in (False, True):  # the anchor against each precision measured
            rows = {r["arm"]: r for r in results if r["model"] == model and r["amp"] == amp}
            arm = next((a for a in ("videos+share", "videos") if a in rows), None)
            if arm is None:
                continue
            r = rows[arm]
            span = by.get(("span", "queries"))
            extra = f", {r['epoch_s'] / span['epoch_s']:.1f}x span's epoch" if span else ""
            print(
                f"  {model} ({arm}, {'bf16 autocast' if amp else 'fp32'}): {ANCHOR_EPOCH_S / r['epoch_s']:.2f}x faster "
                f"(wall; {ANCHOR_EPOCH_S / r['cpu_epoch_s']:.2f}x by CPU time) than the released-code anchor "
                f"({ANCHOR_EPOCH_S:.0f} s; target for mesm >= 3x), "
                f"peak {r['peak_gb']:.2f} GB vs {ANCHOR_PEAK_GB} GB{extra}"
            )
    if args.out:
        args.out.write_text("".join(json.dumps({k: v for k, v in r.items() if k != "profile"}) + "\n" for r in results))


if __name__ == "__main__":
    main()
