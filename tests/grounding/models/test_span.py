"""The span-predictor outputs of ``span`` and ``tea`` (and every TEA switch): start / end /
highlight logits of shape (B, L), masked at padded snippets, and a decode that never picks one."""

from __future__ import annotations

import pytest
import torch

from grounding.models import build_model
from grounding.models.decode import topk_spans
from tests.grounding.models.batches import make_batch, tiny_config
from tests.grounding.models.test_every_model import VARIANTS

CASES = [("span", {})] + [v for v in VARIANTS.values() if v[0] == "tea"]


@pytest.mark.parametrize(("name", "overrides"), CASES, ids=["span", *(k for k, v in VARIANTS.items() if v[0] == "tea")])
def test_logits_are_masked_at_padding_and_decode_never_picks_it(name: str, overrides: dict) -> None:
    torch.manual_seed(0)
    model = build_model(name, **tiny_config(**overrides)).eval()
    batch = make_batch(lengths=[6, 9], q_lengths=[3, 5], seed=4)
    with torch.no_grad():
        out = model(batch)
    b, length = batch["video_mask"].shape
    for key in ("start_logits", "end_logits", "highlight_logits"):
        assert out[key].shape == (b, length), key
        assert (out[key][~batch["video_mask"]] <= -1e3).all(), f"{key} not masked at padding"
    spans, _ = topk_spans(out["start_logits"], out["end_logits"], batch["video_mask"], k=10)
    assert (spans[0] < 6).all(), "a padded snippet won in decoding"
