"""A tiny batch with every key of the BATCH CONTRACT (so models added later find what they
read), random features, suffix padding and valid labels."""

from __future__ import annotations

import torch
from torch import Tensor

DV, DT = 6, 5  # tiny input sizes


def _mask(lengths: list[int], total: int) -> Tensor:
    return torch.arange(total)[None, :] < torch.tensor(lengths)[:, None]


def make_batch(lengths: list[int] | None = None, q_lengths: list[int] | None = None, seed: int = 0) -> dict[str, Tensor]:
    g = torch.Generator().manual_seed(seed)
    lengths = lengths or [8, 5]
    q_lengths = q_lengths or [4, 3]
    b, length, lq, nc, ne, nx = len(lengths), max(lengths), max(q_lengths), 3, 2, 2
    video_mask = _mask(lengths, length)
    batch: dict[str, Tensor] = {
        "video": torch.randn(b, length, DV, generator=g),
        "video_mask": video_mask,
        "query_tokens": torch.randn(b, lq, DT, generator=g),
        "query_mask": _mask(q_lengths, lq),
        "query_sentence": torch.randn(b, DT, generator=g),
        "narratives": torch.randn(b, length, DT, generator=g),
        "narrative_mask": video_mask & (torch.rand(b, length, generator=g) > 0.2),
        "clip_captions": torch.randn(b, nc, DT, generator=g),
        "clip_caption_mask": torch.ones(b, nc, dtype=torch.bool),
        "clip_caption_spans": torch.tensor([[0.0, 2.0], [2.0, 4.0], [4.0, 6.0]]).expand(b, nc, 2).clone(),
        "events": torch.randn(b, ne, DT, generator=g),
        "event_mask": torch.ones(b, ne, dtype=torch.bool),
        "event_spans": torch.tensor([[0.0, 3.0], [3.0, 6.0]]).expand(b, ne, 2).clone(),
        "context": torch.randn(b, nx, DT, generator=g),
        "context_mask": torch.tensor([[True, True]] + [[True, False]] * (b - 1)),
        "duration": torch.tensor([float(n) for n in lengths]),
    }
    start, end, highlight = (torch.zeros(b, length) for _ in range(3))
    for i, n in enumerate(lengths):
        s = int(torch.randint(0, n, (1,), generator=g))
        e = int(torch.randint(s, n, (1,), generator=g))
        start[i, s], end[i, e] = 1.0, 1.0
        highlight[i, s : e + 1] = 1.0
    batch |= {"start_label": start, "end_label": end, "highlight_label": highlight}
    return batch


def tiny_config(**overrides: object) -> dict[str, object]:
    return {"video_dim": DV, "text_dim": DT, "hidden": 16, "heads": 4, **overrides}
