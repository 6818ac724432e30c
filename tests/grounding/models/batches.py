"""A tiny batch with every key of the BATCH CONTRACT (so models added later find what they
read), random features, suffix padding and valid labels."""

from __future__ import annotations

import torch
from torch import Tensor

DV, DT = 6, 5  # tiny input sizes


def _mask(lengths: list[int], total: int) -> Tensor:
    return torch.arange(total)[None, :] < torch.tensor(lengths)[:, None]


def make_batch(
    lengths: list[int] | None = None, q_lengths: list[int] | None = None, seed: int = 0
) -> dict[str, Tensor]:
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


# -- batches made the way training makes them: items -> the model's targets -> collate ----------


def make_items(
    lengths: list[int] | None = None, q_lengths: list[int] | None = None, seed: int = 0, videos: list[int] | None = None
) -> list[dict]:
    """Dataset-like items with every input field of ``grounding.data.fields`` (random values, one
    window each, durations of one second per snippet). ``videos[i]`` makes item i share the video
    (and video-level fields) of that index."""
    import numpy as np

    from grounding.data.fields import FIELDS
    from tests.grounding.models.stvg_items import stvg_fields

    rng = np.random.default_rng(seed)
    lengths = lengths or [8, 5]
    q_lengths = q_lengths or [4, 3]
    items = []
    for i, (n, lq) in enumerate(zip(lengths, q_lengths, strict=True)):
        s = int(rng.integers(0, n))
        e = int(rng.integers(s, n))
        item = {
            "query_id": f"q{i}",
            "video_id": f"v{i}",
            "query": f"query {i}",
            "windows": [(float(s), float(e + 1))],
            "duration": float(n),
        }
        item |= stvg_fields(rng, n, i, item["windows"][0])  # source "stvg": frames of a spatio-temporal query
        for spec in FIELDS.values():
            if spec.is_label or spec.name in item:
                continue
            width = DV if spec.source == "features" else DT
            rows = {"snippets": n, "tokens": lq, "set": 2 + i % 2}.get(spec.layout)
            if spec.dtype == "int64":  # ids (query_token_ids): one small positive id per row
                item[spec.name] = rng.integers(1, 40, size=rows if rows is not None else 1).astype(np.int64)
                continue
            item[spec.name] = (rng.normal(size=(rows, width)) if rows is not None else rng.normal(size=width)).astype(
                np.float32
            )
            if spec.mask and spec.mask_kind == "item":
                item[spec.mask] = rng.random(n) > 0.2
            if spec.spans:
                starts = np.sort(rng.uniform(0, n - 1, size=rows))
                item[spec.spans] = np.stack([starts, np.minimum(starts + 1.5, n)], axis=1).astype(np.float32)
        items.append(item)
    for i, j in enumerate(videos or []):
        if j != i:
            for spec in FIELDS.values():
                if spec.level == "video":
                    for key in spec.keys():
                        if key in items[j]:
                            items[i][key] = items[j][key]
            items[i]["video_id"], items[i]["duration"] = items[j]["video_id"], items[j]["duration"]
    return items


def model_batch(model, items: list[dict], labels: bool = True, share_videos: bool = False) -> dict:  # noqa: ANN001
    """``collate`` of ``items`` with the model's own labels (``target_maker``) added."""
    from grounding.data.collate import collate
    from grounding.data.targets import TargetConfig

    maker = model.target_maker(TargetConfig())
    if labels and maker is not None:
        items = [{**it, **maker(it["windows"], it["duration"], len(it["video"]))} for it in items]
    return collate(items, share_videos=share_videos)


def tiny_model_config(name: str, **overrides: object) -> dict[str, object]:
    """``tiny_config`` restricted to the fields the model's config has."""
    from grounding.models import MODELS
    from tests.grounding.models.stvg_items import DP

    fields = MODELS.get(name).config_cls.model_fields
    values = tiny_config(**{"patch_dim": DP, **overrides})  # patch_dim: bridge_stg's patch width
    return {k: v for k, v in values.items() if k in fields}
