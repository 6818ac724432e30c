"""``bridge_stg`` beyond the every-model contract: it overfits one small batch (boxes and
presence), decodes STVG records (``sted`` in raw frame ids from the predicted window, a box in
pixels on every grid frame; whole-frame boxes in that mode), keeps the temporal decode inside the
query's segment, reads the prior only when a switch needs it, and its STVG predictions score
through ``grounding.stvg_eval``."""

from __future__ import annotations

import pytest
import torch

from grounding.layers.stvg import box_cxcywh_to_xyxy, box_iou
from grounding.models import build_model
from grounding.models.bridge_stg import PRIOR_KEYS, segment_mask
from tests.grounding.models.batches import make_items, model_batch, tiny_model_config


def _model(**overrides: object) -> torch.nn.Module:
    torch.manual_seed(0)
    return build_model("bridge_stg", **tiny_model_config("bridge_stg", **overrides))


@pytest.mark.slow
def test_overfits_one_batch_boxes_and_presence() -> None:
    model = _model(hidden=32, dropout=0.0, spatial_dropout=0.0, n_pos=16, n_neg=16)
    items = make_items(lengths=[9, 7, 8, 6], q_lengths=[4, 3, 5, 2], seed=2)
    batch = model_batch(model, items)
    opt = torch.optim.Adam(model.parameters(), lr=2e-3)
    first = None
    for _ in range(150):
        model.train()
        loss = model.loss(model(batch), batch)
        first = first if first is not None else {k: v.item() for k, v in loss.items()}
        opt.zero_grad()
        loss["total"].backward()
        opt.step()
    model.eval()
    with torch.no_grad():
        out = model(batch)
        final = model.loss(out, batch)
    assert final["box_l1"].item() < 0.1 * first["box_l1"] and final["presence"].item() < 0.1
    presence = batch["frame_presence"] > 0.5
    ious = box_iou(box_cxcywh_to_xyxy(out["boxes"][-1]), batch["frame_boxes"])[presence]
    assert ious.mean().item() > 0.8, ious
    predicted = out["presence_logits"][-1] > 0
    assert bool((predicted == presence)[batch["frame_mask"]].all())


def test_decode_gives_stvg_records() -> None:
    items = make_items(lengths=[8, 5], q_lengths=[4, 3], seed=1)
    for mode in ("bridge", "whole_frame"):
        model = _model(mode=mode).eval()
        batch = model_batch(model, items, labels=False)
        decoded = model.predict(batch, k=3)
        for pred, item in zip(decoded, items, strict=True):
            fids = item["frame_ids"].tolist()
            assert sorted(pred["boxes"]) == fids  # a box on every grid frame
            s, e = pred["sted"]
            assert s in fids and e - 1 in fids and s < e  # raw frame ids, end exclusive
            start, end = pred["pred_relevant_windows"][0][:2]
            inside = [f for f, t in zip(fids, item["frame_times"].tolist(), strict=True) if start <= t < end]
            assert not inside or (s, e) == (inside[0], inside[-1] + 1)
            w, h = item["frame_size"].tolist()
            for box in pred["boxes"].values():
                assert 0 <= box[0] <= box[2] <= w and 0 <= box[1] <= box[3] <= h
            if mode == "whole_frame":
                assert set(map(tuple, pred["boxes"].values())) == {(0.0, 0.0, w, h)}


def test_temporal_decode_stays_in_the_segment() -> None:
    items = make_items(lengths=[10], q_lengths=[3], seed=4)
    items[0]["query_segment"][:] = [4.0, 7.0]
    model = _model().eval()
    batch = model_batch(model, items, labels=False)
    for s, e, _ in model.predict(batch, k=5)[0]["pred_relevant_windows"]:
        assert 4.0 - 1e-6 <= s and e <= 7.0 + 1e-6
    mask = segment_mask(
        torch.tensor([[4.0, 7.0], [30.0, 40.0]]), torch.tensor([10.0, 10.0]), torch.ones(2, 10, dtype=torch.bool)
    )
    assert mask[0].nonzero().squeeze(1).tolist() == [4, 5, 6] and bool(mask[1].all())  # no overlap: every snippet


def test_prior_fields_only_when_a_switch_reads_them() -> None:
    assert set(PRIOR_KEYS) <= set(_model().required_keys)
    assert set(PRIOR_KEYS) <= set(_model(mode="whole_frame").required_keys)  # prior_in_temporal: every mode
    no_prior = {"use_prior_text": False, "eta_source": "predicted", "prior_in_temporal": False}
    assert not set(PRIOR_KEYS) & set(_model(**no_prior).required_keys)
    assert not set(PRIOR_KEYS) & set(_model(mode="coupled", prior_in_temporal=False).required_keys)
    coupled = _model(mode="coupled")
    assert not any(n.startswith("bridge.") for n, _ in coupled.named_parameters())
    whole = _model(mode="whole_frame")
    assert "frame_patches" not in whole.required_keys and not any(
        n.startswith("decoder.") for n, _ in whole.named_parameters()
    )
    with pytest.raises(ValueError, match="names a layer twice"):
        _model(bridge_layers=["end", "end"])


def test_patch_width_mismatch_is_named() -> None:
    model = _model(patch_dim=9).eval()
    with pytest.raises(ValueError, match="patch_dim is 9"):
        model(model_batch(model, make_items(lengths=[6], q_lengths=[2]), labels=False))
