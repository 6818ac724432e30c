"""What is TEA's own: Eq. (14) on probabilities, the merge variants and the switches."""

from __future__ import annotations

import pytest
import torch

from grounding.layers import MASKED_LOGIT
from grounding.models import build_model
from grounding.models.tea import MERGES, AddMerge, AttentionMerge, ConcatMLPMerge, TeaModel, mix_branches
from tests.grounding.models.batches import make_batch, tiny_config


def test_eq14_mixes_probabilities_with_alpha() -> None:
    torch.manual_seed(0)
    lv, lc = torch.randn(2, 5), torch.randn(2, 5)
    mask = torch.tensor([[True] * 5, [True, True, True, False, False]])
    lv, lc = lv.masked_fill(~mask, MASKED_LOGIT), lc.masked_fill(~mask, MASKED_LOGIT)
    mixed = mix_branches(lv, lc, 0.5, mask)
    pv, pc = torch.softmax(lv, -1), torch.softmax(lc, -1)
    torch.testing.assert_close(torch.softmax(mixed, -1), (pv + 0.5 * pc) / 1.5)
    torch.testing.assert_close(mixed.exp()[mask], ((pv + 0.5 * pc) / 1.5)[mask])  # already normalised
    assert (mixed[~mask] == MASKED_LOGIT).all()
    torch.testing.assert_close(torch.softmax(mix_branches(lv, lc, 0.0, mask), -1), pv)


def test_model_outputs_are_the_mix_of_its_two_branches() -> None:
    torch.manual_seed(0)
    model = build_model("tea", **tiny_config(alpha=0.7)).eval()
    batch = make_batch()
    out = model(batch)
    for key in ("start_logits", "end_logits"):
        want = mix_branches(out[f"video_{key}"], out[f"paragraph_{key}"], 0.7, batch["video_mask"])
        torch.testing.assert_close(out[key], want)
    assert model.highlight_keys == ("highlight_logits", "paragraph_highlight_logits")


@pytest.mark.parametrize(
    ("variant", "cls"), [("concat_mlp", ConcatMLPMerge), ("add", AddMerge), ("attention", AttentionMerge)]
)
def test_merge_variant_is_chosen_by_config(variant: str, cls: type) -> None:
    model = build_model("tea", **tiny_config(merge=variant))
    assert isinstance(model.merge, cls)
    assert set(MERGES) == {"concat_mlp", "add", "attention"}


def test_add_merge_is_a_sum_and_concat_merge_reads_both() -> None:
    v, c = torch.randn(1, 3, 4), torch.randn(1, 3, 4)
    mask = torch.tensor([[True, True, False]])
    out = AddMerge(4, 2, 0.0)(v, mask, c, mask)
    torch.testing.assert_close(out[:, :2], (v + c)[:, :2])
    assert (out[:, 2] == 0).all()
    merge = ConcatMLPMerge(4, 2, 0.0)
    assert not torch.allclose(merge(v, mask, c, mask), merge(v, mask, torch.zeros_like(c), mask))


def test_switches_remove_their_parts() -> None:
    base = build_model("tea", **tiny_config(use_narrative_merge=False, use_paragraph_query=False))
    span = build_model("span", **tiny_config())
    assert base.merge is None and base.narrative_encoder is None and not hasattr(base, "paragraph_predictor")
    assert sum(p.numel() for p in base.parameters()) == sum(p.numel() for p in span.parameters())
    assert base.required_keys == span.required_keys
    vn = build_model("tea", **tiny_config(use_paragraph_query=False))
    assert set(vn(make_batch())) == {"start_logits", "end_logits", "highlight_logits"}
    no_hl = build_model("tea", **tiny_config(use_highlight=False))
    assert no_hl.highlight_keys == ()
    assert isinstance(build_model("tea", **tiny_config()), TeaModel)


def test_tea_baseline_equals_span_with_the_same_weights() -> None:
    torch.manual_seed(0)
    span = build_model("span", **tiny_config()).eval()
    base = build_model("tea", **tiny_config(use_narrative_merge=False, use_paragraph_query=False)).eval()
    base.load_state_dict(span.state_dict())
    batch = make_batch()
    torch.testing.assert_close(base(batch)["start_logits"], span(batch)["start_logits"])
