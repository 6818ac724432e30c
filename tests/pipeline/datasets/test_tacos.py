"""TACoS adapter (timestamps in frames) on the real files in ../shared/data."""

from __future__ import annotations

import json

import pytest

from tests.conftest import shared_path
from tests.pipeline.datasets.real import load_real

pytestmark = pytest.mark.shared_data


def test_frames_become_seconds() -> None:
    root = shared_path("tacos")
    ann = load_real("tacos")
    raw = json.loads((root / "val.json").read_text())
    sentences = {
        split: sum(len(v["sentences"]) for v in json.loads((root / f"{split}.json").read_text()).values())
        for split in ("train", "val", "test")
    }
    assert ann.queries_read == sentences
    entry = raw["s34-d28.avi"]  # fps 29.4, 11800 frames; first sentence at frames 201..487
    video = ann.videos["s34-d28"]
    assert video.duration == pytest.approx(entry["num_frames"] / entry["fps"])
    q = next(q for q in ann.queries if q.query_id == "val:s34-d28:0")
    assert q.text == "The person gets out a knife."
    assert q.windows == (pytest.approx((201 / 29.4, 487 / 29.4)),)
