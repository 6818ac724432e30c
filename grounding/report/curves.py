"""The model's curves for every query of a split, in batches: one pass of the checkpoint over the
split (as ``grounding-eval`` runs it) gives each query's decoded prediction and its named
per-snippet curves (``GroundingModel.curves``: start / end / foreground of a span model, the
saliency of a DETR model, ...). ``Predictor.explain`` does the same one query at a time; a report
of 1,000 queries needs the batched pass."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.utils.data import DataLoader

from grounding.data.collate import collate, to_device
from grounding.run_eval import open_checkpoint_split


@dataclass
class SplitPass:
    """What one pass of a checkpoint over a split gave, per query id."""

    predictions: dict[str, dict[str, Any]]  # community rows: qid, query, vid, pred_relevant_windows, extras
    curves: dict[str, dict[str, np.ndarray]]  # qid -> curve name -> values over the query's snippets


@torch.inference_mode()
def run_split(
    run: str | Path,
    split: str,
    k: int = 5,
    device: str = "cpu",
    manifest: str | Path | None = None,
    features: list[str] | None = None,
    cache_dir: str | Path | None = None,
    batch_size: int | None = None,
) -> SplitPass:
    """Run ``run``'s checkpoint (``best/``) over ``split``: predictions and curves of every query.
    ``manifest`` / ``features`` / ``cache_dir`` replace the paths recorded in the checkpoint."""
    opened = open_checkpoint_split(run, split, manifest, features, cache_dir)
    model = opened.model.to(torch.device(device)).eval()
    batch_size = batch_size or opened.ckpt.config["optim"]["batch_size"]
    loader = DataLoader(opened.dataset, batch_size=batch_size, collate_fn=collate)
    predictions: dict[str, dict[str, Any]] = {}
    curves: dict[str, dict[str, np.ndarray]] = {}
    for batch in loader:
        on_device = to_device(batch, torch.device(device))
        outputs = model(on_device)
        decoded = model.decode(outputs, on_device, k)
        named = model.curves(outputs, on_device)
        for qid, query, vid, pred, curve in zip(
            batch["query_id"], batch["query"], batch["video_id"], decoded, named, strict=True
        ):
            predictions[str(qid)] = {"qid": qid, "query": query, "vid": vid, **pred}
            curves[str(qid)] = curve
    return SplitPass(predictions, curves)
