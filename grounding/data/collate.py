"""Pad a list of dataset items into one batch (the batch contract of ``grounding.models``).

Tensors (B batch, L longest video in the batch, Dt text dim)::

    video (B,L,Dv) float32, video_mask (B,L) bool
    query_tokens (B,Lq,Dt), query_mask (B,Lq), query_sentence (B,Dt)
    narratives (B,L,Dt), narrative_mask (B,L)         Eq. 3 aligned; zero and False where none
    clip_captions (B,Nc,Dt), clip_caption_mask (B,Nc), clip_caption_spans (B,Nc,2) seconds
    events (B,Ne,Dt), event_mask (B,Ne), event_spans (B,Ne,2) seconds
    context (B,Nx,Dt), context_mask (B,Nx)
    start_label, end_label, highlight_label (B,L) float32; duration (B,) float32

Set sizes (Lq, Nc, Ne, Nx) are at least 1, so a batch with no captions still has a fully
masked slot rather than an empty axis. Plain lists ride along under ``query_id``, ``video_id``,
``query`` and ``windows``; ``to_device`` moves only the tensors.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import torch

META_KEYS = ("query_id", "video_id", "query", "windows")
LABEL_KEYS = ("start_label", "end_label", "highlight_label")


def _pad(arrays: Sequence[np.ndarray], min_len: int = 1, width: int | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """Stack ``(n_i, ...)`` arrays into ``(B, max n_i, ...)`` zeros-padded, with a bool mask."""
    length = max(min_len, max(a.shape[0] for a in arrays))
    tail = arrays[0].shape[1:] if width is None else (width,)
    out = np.zeros((len(arrays), length, *tail), dtype=np.float32)
    mask = np.zeros((len(arrays), length), dtype=bool)
    for i, a in enumerate(arrays):
        out[i, : a.shape[0]] = a.reshape(a.shape[0], *tail)
        mask[i, : a.shape[0]] = True
    return torch.from_numpy(out), torch.from_numpy(mask)


def collate(items: Sequence[dict[str, Any]]) -> dict[str, Any]:
    batch: dict[str, Any] = {k: [it[k] for it in items] for k in META_KEYS if k in items[0]}
    batch["video"], batch["video_mask"] = _pad([it["video"] for it in items])
    length = batch["video"].shape[1]
    dt = items[0]["query_sentence"].shape[0]
    batch["query_tokens"], batch["query_mask"] = _pad([it["query_tokens"] for it in items], width=dt)
    batch["query_sentence"] = torch.from_numpy(np.stack([it["query_sentence"] for it in items]).astype(np.float32))
    if "narratives" in items[0]:
        narr, _ = _pad([it["narratives"] for it in items], min_len=length, width=dt)
        nmask, _ = _pad([it["narrative_mask"].astype(np.float32) for it in items], min_len=length)
        batch["narratives"], batch["narrative_mask"] = narr, nmask.bool()
    for name, span in (("clip_captions", "clip_caption_spans"), ("events", "event_spans")):
        if name in items[0]:
            batch[name], batch[f"{name[:-1]}_mask"] = _pad([it[name] for it in items], width=dt)
            batch[span], _ = _pad([it[span] for it in items], width=2)
    if "context" in items[0]:
        batch["context"], batch["context_mask"] = _pad([it["context"] for it in items], width=dt)
    for key in LABEL_KEYS:
        batch[key], _ = _pad([np.asarray(it[key], dtype=np.float32) for it in items], min_len=length)
    batch["duration"] = torch.tensor([float(it["duration"]) for it in items], dtype=torch.float32)
    return batch


def to_device(batch: dict[str, Any], device: torch.device | str) -> dict[str, Any]:
    return {k: v.to(device, non_blocking=True) if isinstance(v, torch.Tensor) else v for k, v in batch.items()}
