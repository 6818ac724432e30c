"""From model outputs to windows in seconds, and to community-format prediction rows.

Snippet ``i`` of a video with ``n`` valid snippets covers ``[i, i + 1) * duration / n``, so a span
of snippet indices ``(s, e)`` (inclusive) is the window ``[s * d / n, (e + 1) * d / n]``.
"""

from __future__ import annotations

from typing import Any

import torch

from grounding.models.decode import topk_spans


@torch.no_grad()
def batch_windows(model: torch.nn.Module, batch: dict[str, Any], k: int = 5,
                  outputs: dict[str, torch.Tensor] | None = None) -> list[list[list[float]]]:
    """Top-``k`` ``[start, end, score]`` windows (seconds, best first) for every query of a batch."""
    if outputs is None:
        outputs = model(batch)
    mask = batch["video_mask"]
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
