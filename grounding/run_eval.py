"""Evaluate a trained checkpoint on a split: predict, write community JSONL, score."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from grounding.checkpoint import Checkpoint, checkpoint_model, data_sources, load_checkpoint
from grounding.config import TrainConfig, config_dict
from grounding.data.dataset import GroundingDataset, open_video_store, read_manifest
from grounding.data.snippet_extras import SnippetExtras
from grounding.evaluation import evaluate_predictions
from grounding.models import build_model
from grounding.models.base import GroundingModel
from grounding.stvg_eval import stvg_result
from grounding.train import evaluate, model_args, pick_device
from groundwork.atomic import atomic_write_text


def ground_truth_rows(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Manifest rows as community ground-truth rows (QVHighlights saliency kept when present)."""
    out = []
    for r in rows:
        extra = json.loads(r["extra"]) if r.get("extra") else {}
        gt = {
            "qid": r["query_id"],
            "query": r["query"],
            "vid": r["video_id"],
            "duration": r["duration"],
            "relevant_windows": r["windows"],
            "split": r["split"],
        }
        gt.update({k: extra[k] for k in ("relevant_clip_ids", "saliency_scores") if k in extra})
        out.append(gt)
    return out


def write_jsonl(path: Path, rows: list[dict[str, Any]]) -> None:
    """One JSON object per line, written atomically (``groundwork.atomic``)."""
    atomic_write_text(path, "".join(json.dumps(r) + "\n" for r in rows))


def checkpoint_dataset(ckpt: Any, info: Any, features: Any, split: str, fields: Any) -> GroundingDataset:
    """``split`` of a manifest as the checkpoint's model was trained to read it: its feature store
    with the run's data options (L2-normalised frames; the snippet extras appended after the
    store, ``grounding.data.snippet_extras``), held to the store width the checkpoint's
    ``video_dim`` implies."""
    data = ckpt.config["data"]
    store = open_video_store(info, features, data["store"], data.get("l2_normalize_frames", False))
    extras = SnippetExtras.from_data(data)
    store.expect_width(extras.store_width(ckpt.model_args["video_dim"]), f"the checkpoint's video_dim ({ckpt.path})")
    return GroundingDataset(info, split, store, data["max_len"], fields=fields, extras=extras)


@dataclass(frozen=True)
class CheckpointSplit:
    """A checkpoint, its model (``checkpoint_model``: on the CPU) and one split of its manifest
    read as that model was trained to read it (``checkpoint_dataset``)."""

    ckpt: Checkpoint
    info: Any  # the manifest (``read_manifest``)
    model: GroundingModel
    dataset: GroundingDataset


def open_checkpoint_split(
    path: str | Path,
    split: str | None = None,
    manifest: str | Path | None = None,
    features: list[str] | None = None,
    cache_dir: str | Path | None = None,
) -> CheckpointSplit:
    """``path``'s checkpoint (``best`` of a run folder) with ``split`` (default: the run's test
    split); ``manifest``, ``features`` and ``cache_dir`` replace the paths recorded at training
    time (``data_sources``)."""
    ckpt = load_checkpoint(path)
    src = data_sources(ckpt, manifest, features, cache_dir)
    info = read_manifest(src.manifest, src.cache_dir)
    model = checkpoint_model(ckpt)
    split = split or ckpt.config["data"]["test_split"]
    return CheckpointSplit(ckpt, info, model, checkpoint_dataset(ckpt, info, src.features, split, model.required_keys))


def evaluate_checkpoint(
    path: str | Path,
    split: str | None = None,
    out: Path | None = None,
    manifest: str | Path | None = None,
    features: list[str] | None = None,
    cache_dir: str | Path | None = None,
) -> dict[str, Any]:
    """Predict a split with a checkpoint (``best`` of a run folder), write the community JSONL
    beside it (or to ``out``) and score it against the manifest's windows. ``manifest``,
    ``features`` and ``cache_dir`` replace the paths recorded at training time."""
    opened = open_checkpoint_split(path, split, manifest, features, cache_dir)
    ckpt, info, dataset = opened.ckpt, opened.info, opened.dataset
    split = dataset.split
    device = pick_device(ckpt.config["device"])
    model = opened.model.to(device)
    with torch.no_grad():
        _, preds = evaluate(model, dataset, ckpt.config["optim"]["batch_size"], device, ckpt.config["topk"])
    out = out or ckpt.path.parent / f"preds_{split}.jsonl"
    write_jsonl(out, preds)
    gt = [g for g in ground_truth_rows(dataset.rows) if g["relevant_windows"]]
    result = evaluate_predictions(preds, gt)
    stvg = stvg_result(info, dataset.rows, preds)  # spatio-temporal records on an STVG manifest: scored too
    if stvg is not None:
        result["stvg"] = stvg
    return {
        "checkpoint": str(ckpt.path),
        "split": split,
        "epoch": ckpt.meta.get("epoch"),
        "predictions_file": str(out),
    } | result


def evaluate_untrained(cfg: TrainConfig, split: str | None = None, out: Path | None = None) -> dict[str, Any]:
    """Score a model that needs no training (a zero-shot method such as ``granalign``) straight
    from a config: built from its settings, run on ``split``, its predictions written to ``out``
    (default ``<out_dir>/preds_<split>.jsonl``) and scored against the manifest's windows."""
    from grounding.config import run_dir
    from grounding.data.dataset import probe_dims

    split = split or cfg.data.test_split
    info = read_manifest(cfg.data.manifest, cfg.data.cache_dir)
    device = pick_device(cfg.device)
    text_only = build_model(cfg.model.name, **cfg.model.validated().model_dump(mode="json"))  # dims as configured
    if not _reads_video(text_only.required_keys):  # a text-only scorer (granalign): no feature store needed
        store: Any = _NoVideo(f"model '{cfg.model.name}' reads no video features")
        model = text_only.to(device)
    else:
        store = open_video_store(info, cfg.data.features, cfg.data.store)
        model = build_model(cfg.model.name, **model_args(cfg, *probe_dims(info, store, split))).to(device)
    dataset = GroundingDataset(info, split, store, cfg.data.max_len, fields=model.required_keys)
    _, preds = evaluate(model, dataset, cfg.optim.batch_size, device, cfg.topk)
    out = out or run_dir(cfg) / f"preds_{split}.jsonl"
    write_jsonl(out, preds)
    atomic_write_text(out.parent / "config.json", json.dumps(config_dict(cfg), indent=2))  # what ran (report)
    gt = [g for g in ground_truth_rows(dataset.rows) if g["relevant_windows"]]
    return {"model": cfg.model.name, "split": split, "predictions_file": str(out)} | evaluate_predictions(preds, gt)


def _reads_video(keys: tuple[str, ...]) -> bool:
    """Whether a model's fields need the video feature store (features, or a snippet-aligned field)."""
    from grounding.data.fields import fields_for

    return any(spec.source == "features" or spec.layout == "snippets" for spec in fields_for(keys))


class _NoVideo:
    """The feature store of a model that reads no video: any load is a bug, named as such."""

    dim = None

    def __init__(self, why: str) -> None:
        self.why = why

    def load(self, video_id: str) -> Any:
        msg = f"video {video_id!r}: no feature store was opened ({self.why})"
        raise RuntimeError(msg)
