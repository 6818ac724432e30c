"""collate_by_video: each distinct video once, same outputs and windows as collate."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from grounding.data.collate import collate
from grounding.data.collate import collate_by_video
from grounding.inference import batch_windows
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


def test_query_level_fields_stay_per_query_when_videos_are_shared() -> None:
    """Regression: the video-sharing collate used to take every array but the query words from
    the first query of each video, so a query-level field (``context``: the other queries of the
    video) was the first query's for all of them."""
    rng = np.random.default_rng(1)
    items = _items(rng)
    for j, it in enumerate(items):
        it["context"] = np.full((1 + j % 2, 6), float(j), np.float32)  # differs per query, not per video
    batch = collate(items, share_videos=True)
    assert batch["video"].shape[0] == 3 and batch["context"].shape[0] == len(items)
    for j, it in enumerate(items):
        n = len(it["context"])
        torch.testing.assert_close(batch["context"][j, :n], torch.from_numpy(it["context"]))
        assert batch["context_mask"][j].sum() == n
    torch.testing.assert_close(batch["context"], collate(items)["context"])


def test_labels_are_optional() -> None:
    items = _items(np.random.default_rng(2))
    for it in items:
        for key in ("start_label", "end_label", "highlight_label"):
            del it[key]
    batch = collate(items, share_videos=True)
    assert "start_label" not in batch and batch["query_tokens"].shape[0] == len(items)
