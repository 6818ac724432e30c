"""collate_by_video: each distinct video once, same outputs and windows as collate."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from grounding.data.collate import collate
from grounding.inference import batch_windows, collate_by_video
from grounding.models import build_model


def _items(rng: np.random.Generator) -> list[dict]:
    videos = {f"v{i}": (rng.normal(size=(n, 12)).astype(np.float32), rng.normal(size=(n, 6)).astype(np.float32))
              for i, n in enumerate((9, 5, 7))}
    items = []
    for j, vid in enumerate(["v1", "v0", "v1", "v2", "v0", "v1"]):
        video, narr = videos[vid]
        tokens = rng.normal(size=(2 + j % 3, 6)).astype(np.float32)
        items.append({"query_id": str(j), "video_id": vid, "query": f"q{j}", "windows": [], "video": video,
                      "duration": 10.0 + len(video), "query_tokens": tokens, "query_sentence": tokens.mean(0),
                      "narratives": narr, "narrative_mask": np.arange(len(video)) % 2 == 0,
                      **{k: np.zeros(len(video), np.float32) for k in ("start_label", "end_label", "highlight_label")}})
    return items


@pytest.mark.parametrize("name", ["span", "tea"])
def test_collate_by_video_matches_collate(name: str) -> None:
    items = _items(np.random.default_rng(0))
    torch.manual_seed(0)
    model = build_model(name, video_dim=12, text_dim=6, hidden=16, heads=2).eval()
    grouped = collate_by_video(items)
    assert grouped["video"].shape[0] == 3 and grouped["video_index"].tolist() == [0, 1, 0, 2, 1, 0]
    with torch.no_grad():
        ref, ours = model(collate(items)), model(grouped)
    assert set(ref) == set(ours)
    for key in ref:
        torch.testing.assert_close(ours[key], ref[key], rtol=1e-5, atol=1e-5)
    assert batch_windows(model, grouped) == batch_windows(model, collate(items))
