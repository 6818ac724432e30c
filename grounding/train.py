"""The training loop, top to bottom: ``fit`` builds everything from a ``TrainConfig`` and runs
epochs of ``train_epoch``; every ``eval_every`` epochs ``evaluate`` scores the validation split,
and the best checkpoint on it (never on test) is kept in ``<out_dir>/best``; ``<out_dir>/last``
is written after every epoch and is what ``resume`` continues from.

Adam with a linearly decaying learning rate and gradient clipping (TEA: 5e-4, clip 1.0, batch 16).
On CPU the run is deterministic (seeded, a per-epoch shuffling seed; torch's CPU kernels used
here are deterministic, ``tests/grounding/test_train.py`` checks it; ``use_deterministic_algorithms``
is not called because it imports torch._inductor, ~10 s);
on CUDA the forward runs under bfloat16 autocast when ``amp`` is on (on CPU with ``amp_cpu`` as well:
``bench/detr_epoch.py --precisions fp32 bf16`` measures what it saves). Logs: tqdm bars,
TensorBoard scalars under ``<out_dir>/tb`` and ``<out_dir>/log.csv``.
"""

from __future__ import annotations

import csv
import json
import random
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.utils.data import DataLoader, RandomSampler, SequentialSampler

from grounding.checkpoint import load_checkpoint, load_training_state, resume_point, save_checkpoint
from grounding.config import TrainConfig, config_dict, run_dir
from grounding.data.check import FEATURE_CHECK, check_videos, videos_by_split
from grounding.data.collate import collate, collate_by_video, to_device
from grounding.data.dataset import GroundingDataset, open_video_store, probe_dims, read_manifest
from grounding.data.samplers import VideoBatchSampler
from grounding.data.snippet_extras import SnippetExtras
from grounding.inference import predict_batch, prediction_rows
from grounding.metrics.temporal import same_window_share, temporal_metrics
from grounding.models import build_model
from grounding.models.base import GroundingModel
from grounding.stvg_eval import flat_metrics, has_stvg, stvg_result
from groundwork.atomic import atomic_write_text
from groundwork.progress import progress as progress_bar


@dataclass
class FitResult:
    out_dir: Path
    best: dict[str, Any] | None  # validation metrics of the best epoch
    history: list[dict[str, Any]] = field(default_factory=list)  # one row per epoch


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def pick_device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(name)


def model_args(cfg: TrainConfig, video_dim: int, text_dim: int) -> dict[str, Any]:
    """Constructor arguments of the model: its config options plus the data's dimensions."""
    return {**cfg.model.validated().model_dump(mode="json"), "video_dim": video_dim, "text_dim": text_dim}


def make_loader(
    dataset: GroundingDataset, cfg: TrainConfig, shuffle_seed: int | None, model: GroundingModel | None = None
) -> DataLoader:
    """Training batches: whole videos with all their queries when ``data.video_batches`` is on
    (unset: the model's own ``batch_sampler``, e.g. the DETR models'), else shuffled queries;
    ``shuffle_seed`` None gives the queries in order. With ``data.share_videos`` and a model that
    shares videos, a batch holds each video once (``collate_by_video``)."""
    share = cfg.data.share_videos and model is not None and model.shares_videos
    collate_fn = collate_by_video if share else collate
    batches = None
    if shuffle_seed is not None and cfg.data.video_batches:
        batches = VideoBatchSampler.from_dataset(dataset, cfg.optim.batch_size, shuffle_seed)
    elif shuffle_seed is not None and cfg.data.video_batches is None and model is not None:
        batches = model.batch_sampler(dataset, cfg.optim.batch_size, shuffle_seed)
    if batches is not None:
        return DataLoader(dataset, batch_sampler=batches, collate_fn=collate_fn, num_workers=cfg.data.num_workers)
    sampler = (
        SequentialSampler(dataset)
        if shuffle_seed is None
        else RandomSampler(dataset, generator=torch.Generator().manual_seed(shuffle_seed))
    )
    return DataLoader(
        dataset,
        batch_size=cfg.optim.batch_size,
        sampler=sampler,
        collate_fn=collate_fn,
        num_workers=cfg.data.num_workers,
    )


def make_optimizer(model: torch.nn.Module, cfg: TrainConfig) -> torch.optim.Optimizer:
    """Adam (TEA) or AdamW (QD-DETR / MESM) over every parameter."""
    opt = torch.optim.AdamW if cfg.optim.optimizer == "adamw" else torch.optim.Adam
    return opt(model.parameters(), lr=cfg.optim.lr, weight_decay=cfg.optim.weight_decay)


def make_scheduler(
    optimizer: torch.optim.Optimizer, cfg: TrainConfig, total_steps: int
) -> torch.optim.lr_scheduler.LambdaLR:
    warm = cfg.optim.warmup_steps

    def factor(step: int) -> float:
        ramp = min(1.0, (step + 1) / warm) if warm else 1.0
        decay = max(0.0, 1.0 - step / max(1, total_steps)) if cfg.optim.schedule == "linear" else 1.0
        return ramp * decay

    return torch.optim.lr_scheduler.LambdaLR(optimizer, factor)


def train_epoch(
    model: torch.nn.Module,
    loader: DataLoader,
    optimizer: torch.optim.Optimizer,
    scheduler: torch.optim.lr_scheduler.LRScheduler,
    cfg: TrainConfig,
    device: torch.device,
    desc: str = "train",
    progress: bool = True,
) -> dict[str, Any]:
    """One pass over ``loader``; returns the mean of every loss part and the per-step totals."""
    model.train()
    use_amp = cfg.amp and (device.type == "cuda" or (device.type == "cpu" and cfg.amp_cpu))
    sums: dict[str, float] = {}
    steps: list[float] = []
    bar = progress_bar(loader, desc=desc, enabled=progress, leave=False)
    for batch in bar:
        batch = to_device(batch, device)
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=use_amp):
            outputs = model(batch)
        losses = model.loss({k: v.float() if torch.is_tensor(v) else v for k, v in outputs.items()}, batch)
        optimizer.zero_grad(set_to_none=True)
        losses["total"].backward()
        if cfg.optim.grad_clip > 0:
            torch.nn.utils.clip_grad_norm_(model.parameters(), cfg.optim.grad_clip)
        optimizer.step()
        scheduler.step()
        for name, value in losses.items():
            sums[name] = sums.get(name, 0.0) + float(value.detach())
        steps.append(float(losses["total"].detach()))
        bar.set_postfix(loss=f"{steps[-1]:.4f}")
    out: dict[str, Any] = {f"loss/{k}": v / max(1, len(steps)) for k, v in sums.items()}
    out["step_losses"] = steps
    return out


@torch.no_grad()
def evaluate(
    model: GroundingModel,
    dataset: GroundingDataset,
    batch_size: int,
    device: torch.device,
    k: int = 5,
    progress: bool = False,
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """R1/R5 at IoU 0.3/0.5/0.7, mIoU and ``same_window`` (how often a top-1 window repeats across
    a video's queries, %: 100 for a checkpoint that answers every query of a video alike;
    ``grounding.metrics.temporal.same_window_share``) on ``dataset``, plus the community-format
    predictions (the model's ``decode``, extra keys included)."""
    model.eval()
    loader = DataLoader(dataset, batch_size=batch_size, collate_fn=collate)
    preds: list[dict[str, Any]] = []
    gts: list[list[tuple[float, float]]] = []
    for batch in progress_bar(loader, desc=f"eval {dataset.split}", enabled=progress, leave=False):
        preds.extend(prediction_rows(batch, predict_batch(model, to_device(batch, device), k=k)))
        gts.extend(batch["windows"])
    windows = [p["pred_relevant_windows"] for p in preds]
    metrics = temporal_metrics(windows, gts) | {"same_window": same_window_share(windows, [p["vid"] for p in preds])}
    if has_stvg(preds):  # spatio-temporal predictions (bridge_stg): STVG metrics on the rows' GT tubes too
        tubes = dataset.stvg.tubes if getattr(dataset, "stvg", None) is not None else None
        metrics |= flat_metrics(stvg_result(dataset.info, dataset.rows, preds, tubes=tubes))
    return metrics, preds


def _selection_key(metrics: dict[str, Any], cfg: TrainConfig) -> tuple[bool, float]:
    """What ranks validation epochs: ``select_metric``, after whether the epoch's top-1 windows
    repeat across a video's queries at most ``select_max_repeats`` % (when set). Ties keep the
    earlier epoch."""
    cap = cfg.select_max_repeats
    return (cap is None or metrics.get("same_window", 0.0) <= cap, metrics[cfg.select_metric])


class RunLog:
    """TensorBoard scalars plus one CSV row per (epoch, split). ``through_epoch``: the epochs kept
    from an earlier log of this folder (the resumed checkpoint's; -1, a new run: none), so the
    rows a killed run wrote after its last checkpoint are not there twice, nor a half-written
    line; TensorBoard hides the events after that checkpoint's step (``purge_step``)."""

    def __init__(self, out_dir: Path, through_epoch: int = -1, purge_step: int | None = None) -> None:
        from torch.utils.tensorboard import SummaryWriter

        self.tb = SummaryWriter(str(out_dir / "tb"), purge_step=purge_step)
        self.csv_path = out_dir / "log.csv"
        if self.csv_path.exists():
            lines = self.csv_path.read_text().splitlines(keepends=True)
            keep = [
                ln
                for ln in lines[1:]
                if ln.endswith("\n") and ln.split(",", 1)[0].isdigit() and int(ln.split(",", 1)[0]) <= through_epoch
            ]
            if keep:
                atomic_write_text(self.csv_path, "".join(lines[:1] + keep))
            else:
                self.csv_path.unlink()

    def write(self, epoch: int, step: int, split: str, values: dict[str, Any]) -> None:
        scalars = {k: float(v) for k, v in values.items() if isinstance(v, (int, float))}
        for k, v in scalars.items():
            self.tb.add_scalar(f"{split}/{k}", v, step)
        new = not self.csv_path.exists()
        with self.csv_path.open("a", newline="") as f:
            w = csv.writer(f)
            if new:
                w.writerow(["epoch", "step", "split", "metric", "value"])
            w.writerows([epoch, step, split, k, v] for k, v in scalars.items())

    def close(self) -> None:
        self.tb.close()


def fit(cfg: TrainConfig, resume: bool = False, progress: bool = True, stop_after: int | None = None) -> FitResult:
    """Train per ``cfg``; ``resume`` continues ``<out_dir>/last``; ``stop_after`` ends this call
    after that many epochs (a time-limited job), leaving ``last/`` to resume from."""
    seed_everything(cfg.seed)
    device = pick_device(cfg.device)
    if device.type == "cpu" and cfg.threads:
        torch.set_num_threads(cfg.threads)
    if cfg.data.manifest is None:
        msg = "data.manifest is not set: pass --priors manifests/<dataset>.parquet"
        raise ValueError(msg)
    cfg = cfg.model_copy(deep=True)  # checkpoints record absolute paths, usable from any folder
    cfg.data.manifest = Path(cfg.data.manifest).resolve()
    cfg.data.features = [str(Path(f).resolve()) if ":" not in f else f for f in cfg.data.features]
    info = read_manifest(cfg.data.manifest, cfg.data.cache_dir)
    store = open_video_store(info, cfg.data.features, cfg.data.store, cfg.data.l2_normalize_frames)
    video_dim, text_dim = probe_dims(info, store, cfg.data.train_split)
    extras = SnippetExtras.from_data(cfg.data)  # appended to each snippet: endpoints, differences
    args = model_args(cfg, extras.width(video_dim), text_dim)
    # Every video of the splits fit reads, loaded once before the first step (cached per run folder).
    check_videos(
        store,
        videos_by_split(info.rows, (cfg.data.train_split, cfg.data.val_split)),
        run_dir(cfg) / FEATURE_CHECK,
        progress=progress,
    )
    model = build_model(cfg.model.name, **args).to(device)
    # The model decides what is loaded: its inputs everywhere, its loss fields for training only.
    train_set = GroundingDataset(
        info,
        cfg.data.train_split,
        store,
        cfg.data.max_len,
        targets=model.target_maker(cfg.data.targets),
        fields=(*model.required_keys, *model.loss_keys),
        extras=extras,
        video_cache_mb=cfg.data.video_cache_mb,
    )
    has_val = any(r["split"] == cfg.data.val_split for r in info.rows)
    val_set = (
        GroundingDataset(
            info,
            cfg.data.val_split,
            store,
            cfg.data.max_len,
            fields=model.required_keys,
            extras=extras,
            video_cache_mb=cfg.data.video_cache_mb,
        )
        if has_val
        else None
    )
    if cfg.data.share_videos and not model.shares_videos:
        msg = f"data.share_videos: model '{cfg.model.name}' cannot hold a video once for several queries"
        raise ValueError(msg)
    model_data = model.fit_data(train_set)  # statistics of the training split (MESM: its word vocabulary)
    optimizer = make_optimizer(model, cfg)
    steps_per_epoch = len(make_loader(train_set, cfg, shuffle_seed=cfg.seed, model=model))
    scheduler = make_scheduler(optimizer, cfg, steps_per_epoch * cfg.optim.epochs)
    out = run_dir(cfg)
    out.mkdir(parents=True, exist_ok=True)
    (out / "config.json").write_text(json.dumps(config_dict(cfg), indent=2))
    (out / "model_data.json").write_text(json.dumps(model_data, indent=2))
    start_epoch, step, best = 0, 0, None
    last = resume_point(out) if resume else None  # None: nothing to resume yet (killed before epoch 1 ended)
    if last is not None:
        ckpt = load_checkpoint(last)
        model.load_state_dict(ckpt.state_dict)
        state = load_training_state(ckpt.path)
        optimizer.load_state_dict(state["optimizer"])
        scheduler.load_state_dict(state["scheduler"])
        torch.set_rng_state(state["rng"])
        start_epoch, step, best = ckpt.meta["epoch"] + 1, ckpt.meta["step"], ckpt.meta.get("best")
    log = RunLog(out, through_epoch=start_epoch - 1, purge_step=step + 1 if last is not None else None)
    result = FitResult(out, best)
    for epoch in range(start_epoch, cfg.optim.epochs):
        t0 = time.perf_counter()
        loader = make_loader(train_set, cfg, shuffle_seed=cfg.seed * 100_003 + epoch, model=model)
        stats = train_epoch(
            model, loader, optimizer, scheduler, cfg, device, f"epoch {epoch + 1}/{cfg.optim.epochs}", progress
        )
        step += len(stats["step_losses"])
        row: dict[str, Any] = {"epoch": epoch, "step": step, "seconds": time.perf_counter() - t0, **stats}
        log.write(
            epoch,
            step,
            "train",
            {**{k: v for k, v in stats.items() if k.startswith("loss/")}, "lr": scheduler.get_last_lr()[0]},
        )
        is_best = val_set is None
        if val_set is not None and ((epoch + 1) % cfg.eval_every == 0 or epoch + 1 == cfg.optim.epochs):
            metrics, _ = evaluate(model, val_set, cfg.optim.batch_size, device, cfg.topk)
            log.write(epoch, step, "val", metrics)
            row["val"] = metrics
            if cfg.select_metric not in metrics:
                msg = (
                    f"select_metric '{cfg.select_metric}' is not a validation metric; "
                    f"choose one of {', '.join(metrics)}"
                )
                raise ValueError(msg)
            is_best = best is None or _selection_key(metrics, cfg) > _selection_key(best, cfg)
            if is_best:
                best = {**metrics, "epoch": epoch}
        meta = {
            "epoch": epoch,
            "step": step,
            "best": best,
            "select_metric": cfg.select_metric,
            "model": cfg.model.name,
            "dataset": info.dataset,
            "manifest": str(info.path),
            "model_data": model_data,
        }
        state = {"optimizer": optimizer.state_dict(), "scheduler": scheduler.state_dict(), "rng": torch.get_rng_state()}
        if is_best:  # before last/: a kill between the two redoes this epoch and saves best/ again
            save_checkpoint(out / "best", model, config_dict(cfg), args, meta)
        save_checkpoint(out / "last", model, config_dict(cfg), args, meta, state)
        result.history.append(row)
        result.best = best
        if stop_after is not None and len(result.history) >= stop_after:
            break
    log.close()
    return result
