"""Every registered model (future ones included) and every TEA switch: forward, backward, no
NaN, every parameter reached by the gradient, padding invariance, decode never picks padding."""

from __future__ import annotations

import pytest
import torch

from grounding.models import MODELS, build_model
from grounding.models.decode import topk_spans
from tests.grounding.models.batches import make_batch, tiny_config

TEA_VARIANTS = {
    "tea-concat_mlp": {"merge": "concat_mlp"},
    "tea-add": {"merge": "add"},
    "tea-attention": {"merge": "attention"},
    "tea-vn-only": {"use_paragraph_query": False},
    "tea-pq-only": {"use_narrative_merge": False},
    "tea-baseline": {"use_narrative_merge": False, "use_paragraph_query": False},
    "tea-alpha0": {"alpha": 0.0},
    "tea-no-guided-no-highlight": {"use_guided_conv": False, "use_highlight": False},
}
CASES = [(name, {}) for name in MODELS.names()] + [("tea", cfg) for cfg in TEA_VARIANTS.values()]
IDS = MODELS.names() + list(TEA_VARIANTS)


@pytest.mark.parametrize(("name", "overrides"), CASES, ids=IDS)
def test_forward_backward_no_nan(name: str, overrides: dict) -> None:
    torch.manual_seed(0)
    model = build_model(name, **tiny_config(**overrides))
    batch = make_batch()
    out = model(batch)
    b, length = batch["video_mask"].shape
    for key in ("start_logits", "end_logits", "highlight_logits"):
        assert out[key].shape == (b, length), key
        assert torch.isfinite(out[key]).all(), key
        assert (out[key][~batch["video_mask"]] <= -1e3).all(), f"{key} not masked at padding"
    loss = model.loss(out, batch)
    assert {"total", "vmr", "highlight"} <= set(loss)
    assert torch.isfinite(loss["total"]) and loss["total"] > 0
    loss["total"].backward()
    unused = []
    for pname, p in model.named_parameters():
        assert p.grad is None or torch.isfinite(p.grad).all(), pname
        if p.grad is None:
            unused.append(pname)
    if overrides.get("alpha") == 0.0:  # the paragraph branch only learns through its highlight head
        unused = [u for u in unused if not u.startswith("paragraph_")]
    assert not unused, f"parameters the loss never reaches: {unused}"


@pytest.mark.parametrize(("name", "overrides"), CASES, ids=IDS)
def test_padding_does_not_change_valid_outputs(name: str, overrides: dict) -> None:
    torch.manual_seed(0)
    model = build_model(name, **tiny_config(**overrides)).eval()
    short = make_batch(lengths=[6], q_lengths=[3], seed=3)
    long = make_batch(lengths=[6, 9], q_lengths=[3, 5], seed=4)  # row 0 reused with padding
    for key, value in short.items():
        if value.dim() >= 2 and key.endswith(("video", "narratives", "query_tokens", "_mask", "_label")):
            sl = tuple(slice(0, n) for n in value.shape[1:])
            padded = long[key][:1].clone()
            if padded.dtype == torch.bool:
                padded[:] = False
            else:
                padded[:] = 1e3  # garbage in the padding
            padded[(slice(None), *sl)] = value
            long[key] = torch.cat([padded, long[key][1:]])
    with torch.no_grad():
        a, b = model(short), model(long)
    for key in ("start_logits", "end_logits", "highlight_logits"):
        torch.testing.assert_close(b[key][0, :6], a[key][0], rtol=1e-4, atol=1e-4, msg=key)
    spans, _ = topk_spans(b["start_logits"], b["end_logits"], long["video_mask"], k=10)
    assert (spans[0] < 6).all(), "a padded snippet won in decoding"


def test_missing_batch_keys_are_named() -> None:
    model = build_model("tea", **tiny_config())
    batch = make_batch()
    del batch["narratives"]
    with pytest.raises(ValueError, match="narratives"):
        model(batch)
    baseline = build_model("tea", **tiny_config(use_narrative_merge=False, use_paragraph_query=False))
    assert torch.isfinite(baseline(batch)["start_logits"]).all()  # needs no narratives
