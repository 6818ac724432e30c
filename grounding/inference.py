"""From a batch to community-format prediction rows, through the model's own ``decode``.

Nothing here knows a model's head: ``GroundingModel.decode`` turns outputs into windows in seconds
(and any extra keys, such as ``pred_saliency_scores``), and ``prediction_rows`` adds the ids.
"""

from __future__ import annotations

from typing import Any

import torch

from grounding.models.base import GroundingModel


@torch.inference_mode()
def predict_batch(
    model: GroundingModel, batch: dict[str, Any], k: int = 5, outputs: dict[str, torch.Tensor] | None = None
) -> list[dict[str, Any]]:
    """The model's decoded prediction for every query of a batch (a ``collate`` batch, with or
    without shared videos)."""
    return model.decode(model(batch) if outputs is None else outputs, batch, k)


def batch_windows(
    model: GroundingModel, batch: dict[str, Any], k: int = 5, outputs: dict[str, torch.Tensor] | None = None
) -> list[list[list[float]]]:
    """Top-``k`` ``[start, end, score]`` windows (seconds, best first) for every query of a batch."""
    return [p["pred_relevant_windows"] for p in predict_batch(model, batch, k, outputs)]


def prediction_rows(batch: dict[str, Any], decoded: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Community JSONL rows: qid, query, vid, pred_relevant_windows, plus the decode's extra keys."""
    return [
        {"qid": qid, "query": query, "vid": vid, **pred}
        for qid, query, vid, pred in zip(batch["query_id"], batch["query"], batch["video_id"], decoded, strict=True)
    ]
