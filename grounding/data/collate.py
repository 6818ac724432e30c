"""Pad a list of dataset items into one batch, field by field, as ``grounding.data.fields``
declares them. Every field present in the items is collated; nothing here knows a field by name.

``collate(items)`` gives every array one row per query. ``collate(items, share_videos=True)``
holds each distinct video (by ``video_id``) once: video-level fields get one row per distinct
video, in first-seen order, query-level fields one row per query, and ``video_index`` (B,) long
maps each query to its video's row. Models run their query-independent layers once per video on
such a batch (``grounding.models.span.per_query``) and give the same outputs as on ``collate``'s.

Plain lists ride along under ``META_KEYS`` (one entry per query); ``to_device`` moves only the
tensors. Labels are optional: a batch has them when its items do.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import torch

from grounding.data.fields import FIELDS, META_KEYS, BatchField

_DTYPES = {"float32": np.float32, "bool": np.bool_, "int64": np.int64}


def _pad(arrays: Sequence[np.ndarray], dtype: Any, min_len: int = 1) -> tuple[np.ndarray, np.ndarray]:
    """Stack ``(n_i, ...)`` arrays into ``(B, max(n_i, min_len), ...)`` zero-padded, with the
    bool mask of the real rows."""
    length = max(min_len, max(a.shape[0] for a in arrays))
    tail = next((a.shape[1:] for a in arrays if a.size), arrays[0].shape[1:])
    out = np.zeros((len(arrays), length, *tail), dtype=dtype)
    mask = np.zeros((len(arrays), length), dtype=bool)
    for i, a in enumerate(arrays):
        n = a.shape[0]
        if n:
            out[i, :n] = a.reshape(n, *tail)
        mask[i, :n] = True
    return out, mask


def _collate_field(spec: BatchField, items: Sequence[dict[str, Any]], length: int) -> dict[str, torch.Tensor]:
    dtype = _DTYPES[spec.dtype]
    values = [np.asarray(it[spec.name]) for it in items]
    if spec.layout == "scalar":
        return {spec.name: torch.from_numpy(np.asarray(values, dtype=dtype))}
    if spec.layout == "sentence":
        return {spec.name: torch.from_numpy(np.stack(values).astype(dtype, copy=False))}
    out: dict[str, torch.Tensor] = {}
    padded, mask = _pad(values, dtype, min_len=length if spec.layout == "snippets" else 1)  # set / tokens / frames
    out[spec.name] = torch.from_numpy(padded)
    if spec.mask and spec.mask_kind == "item":
        item_mask, _ = _pad([np.asarray(it[spec.mask], dtype=bool) for it in items], np.bool_, min_len=padded.shape[1])
        out[spec.mask] = torch.from_numpy(item_mask)
    elif spec.mask:
        out[spec.mask] = torch.from_numpy(mask)
    if spec.spans:
        spans, _ = _pad([np.asarray(it[spec.spans], np.float32).reshape(-1, 2) for it in items], np.float32)
        out[spec.spans] = torch.from_numpy(spans)
    return out


def collate(items: Sequence[dict[str, Any]], share_videos: bool = False) -> dict[str, Any]:
    """One batch from dataset items (see the module doc)."""
    batch: dict[str, Any] = {k: [it[k] for it in items] for k in META_KEYS if k in items[0]}
    videos: list[dict[str, Any]] = list(items)
    if share_videos:
        rows: dict[str, int] = {}
        index = [rows.setdefault(it["video_id"], len(rows)) for it in items]
        firsts: dict[str, dict[str, Any]] = {}
        for it in items:
            firsts.setdefault(it["video_id"], it)
        videos = list(firsts.values())
        batch["video_index"] = torch.tensor(index, dtype=torch.long)
    length = max(len(it["video"]) for it in items) if "video" in items[0] else 1
    for spec in FIELDS.values():
        if spec.name in items[0]:
            batch |= _collate_field(spec, videos if spec.level == "video" else items, length)
    return batch


def per_query(x: torch.Tensor, batch: dict[str, Any]) -> torch.Tensor:
    """A video-level tensor (U, ...) as one row per query (B, ...) when the batch shares videos."""
    index = batch.get("video_index")
    return x if index is None else x.index_select(0, index)


def to_device(batch: dict[str, Any], device: torch.device | str) -> dict[str, Any]:
    return {k: v.to(device, non_blocking=True) if isinstance(v, torch.Tensor) else v for k, v in batch.items()}


def collate_by_video(items: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """``collate(items, share_videos=True)``: each distinct video held once."""
    return collate(items, share_videos=True)
