"""From model outputs to windows in seconds, and to community-format prediction rows.

Snippet ``i`` of a video with ``n`` valid snippets covers ``[i, i + 1) * duration / n``, so a span
of snippet indices ``(s, e)`` (inclusive) is the window ``[s * d / n, (e + 1) * d / n]``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import torch

from grounding.data.collate import LABEL_KEYS, META_KEYS, collate
from grounding.models.decode import topk_spans
from grounding.models.span import per_query


def collate_by_video(items: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """``collate`` for inference that holds each distinct video (by ``video_id``) once.

    Video-level arrays (video, video_mask, narratives, narrative_mask) have one row per distinct
    video, in first-seen order; query arrays (query_tokens, query_mask, query_sentence), the
    plain lists and ``duration`` have one row per item; ``video_index`` (B,) maps item -> video
    row. The models run their query-independent layers once per video and give the outputs of
    ``collate(items)``, while collating copies each video once. No labels (inference only)."""
    rows: dict[str, int] = {}
    index = [rows.setdefault(it["video_id"], len(rows)) for it in items]
    firsts: dict[str, dict[str, Any]] = {}
    for it in items:
        firsts.setdefault(it["video_id"], it)
    batch = collate(list(firsts.values()))
    for key in LABEL_KEYS:
        batch.pop(key, None)
    batch |= {k: [it[k] for it in items] for k in META_KEYS if k in items[0]}
    dt = items[0]["query_sentence"].shape[0]
    width = max(1, max(len(it["query_tokens"]) for it in items))
    tokens, mask = np.zeros((len(items), width, dt), np.float32), np.zeros((len(items), width), bool)
    for i, it in enumerate(items):
        tokens[i, : len(it["query_tokens"])] = it["query_tokens"]
        mask[i, : len(it["query_tokens"])] = True
    batch["query_tokens"], batch["query_mask"] = torch.from_numpy(tokens), torch.from_numpy(mask)
    batch["query_sentence"] = torch.from_numpy(np.stack([it["query_sentence"] for it in items]).astype(np.float32))
    batch["duration"] = torch.tensor([float(it["duration"]) for it in items], dtype=torch.float32)
    batch["video_index"] = torch.tensor(index, dtype=torch.long)
    return batch


@torch.inference_mode()
def batch_windows(model: torch.nn.Module, batch: dict[str, Any], k: int = 5,
                  outputs: dict[str, torch.Tensor] | None = None) -> list[list[list[float]]]:
    """Top-``k`` ``[start, end, score]`` windows (seconds, best first) for every query of a batch
    (a ``collate`` or a ``collate_by_video`` batch)."""
    if outputs is None:
        outputs = model(batch)
    mask = per_query(batch["video_mask"], batch)
    spans, scores = topk_spans(outputs["start_logits"].float(), outputs["end_logits"].float(), mask, k=k)
    n = mask.sum(dim=1).clamp(min=1).to(torch.float64)
    step = batch["duration"].to(spans.device, torch.float64) / n.to(spans.device)
    start = spans[..., 0].to(torch.float64) * step[:, None]
    end = (spans[..., 1].to(torch.float64) + 1.0) * step[:, None]
    end = torch.minimum(end, batch["duration"].to(end.device, torch.float64)[:, None])
    rows = torch.stack([start, end, scores.to(torch.float64)], dim=-1).cpu().tolist()
    return [[[round(s, 4), round(e, 4), round(p, 6)] for s, e, p in q] for q in rows]


def prediction_rows(batch: dict[str, Any], windows: list[list[list[float]]]) -> list[dict[str, Any]]:
    """Community JSONL rows: qid, query, vid, pred_relevant_windows."""
    return [
        {"qid": qid, "query": query, "vid": vid, "pred_relevant_windows": w}
        for qid, query, vid, w in zip(batch["query_id"], batch["query"], batch["video_id"], windows, strict=True)
    ]
