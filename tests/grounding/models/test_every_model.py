"""Every registered model (future ones included) and every ablation switch, whatever its head:
forward and backward with no NaN, the loss reaches every parameter, outputs decode to windows in
seconds inside the video, and padding does not change a query's predictions. Batches come from
the real ``collate`` with each model's own targets (``target_maker``)."""

from __future__ import annotations

import pytest
import torch

from grounding.data.fields import FIELDS
from grounding.models import MODELS, build_model
from grounding.stvg_eval import has_stvg
from tests.grounding.models.batches import make_items, model_batch, tiny_model_config

VARIANTS = {
    "tea-concat_mlp": ("tea", {"merge": "concat_mlp"}),
    "tea-add": ("tea", {"merge": "add"}),
    "tea-attention": ("tea", {"merge": "attention"}),
    "tea-vn-only": ("tea", {"use_paragraph_query": False}),
    "tea-pq-only": ("tea", {"use_narrative_merge": False}),
    "tea-baseline": ("tea", {"use_narrative_merge": False, "use_paragraph_query": False}),
    "tea-alpha0": ("tea", {"alpha": 0.0}),
    "tea-no-guided-no-highlight": ("tea", {"use_guided_conv": False, "use_highlight": False}),
    "masra-no-esta-lrca": ("masra", {"use_esta": False, "use_lrca": False}),
    "masra-all-off": (
        "masra",
        {"use_esta": False, "use_lrca": False, "use_sge": False, "use_sora": False, "use_dai": False},
    ),
    "masra-two-hop-mse-static-codebook": (
        "masra",
        {"sora_mode": "two_hop", "lrca_loss": "mse", "codebook_context": "none"},
    ),
    "masra-first-order-query-codebook": ("masra", {"sora_mode": "first_order", "codebook_context": "query"}),
    "masra-no-codebook": ("masra", {"codebook_size": 0}),
    "masra-qd_detr": ("masra", {"base": "qd_detr"}),
    "masra-qd_detr-no-esta-lrca": ("masra", {"base": "qd_detr", "use_esta": False, "use_lrca": False}),
    "bridge_stg-coupled": ("bridge_stg", {"mode": "coupled"}),
    "bridge_stg-whole-frame": ("bridge_stg", {"mode": "whole_frame"}),
    "bridge_stg-one-layer-no-prior-no-eta": (
        "bridge_stg",
        {"bridge_layers": ["end"], "use_prior_text": False, "eta": False, "prior_in_temporal": False},
    ),
    "bridge_stg-detached-first-layer-only-no-negatives": (
        "bridge_stg",
        {"detach_temporal": True, "interactive": False, "neg_frames": False},
    ),
    "bridge_stg-prior-span-updated-bridge": (
        "bridge_stg",
        {"eta_source": "prior", "update_bridge": True, "bridge_layers": ["fused", "start", "end"]},
    ),
}
TRAINABLE = [n for n in MODELS.names() if MODELS.get(n).trainable]
CASES = [(name, {}) for name in TRAINABLE] + list(VARIANTS.values())
IDS = TRAINABLE + list(VARIANTS)
# parameters a variant legitimately leaves without gradient (its branch's main output has weight 0)
UNREACHED = {"tea-alpha0": "paragraph_"}


def _model(name: str, overrides: dict) -> torch.nn.Module:
    torch.manual_seed(0)
    return build_model(name, **tiny_model_config(name, **overrides))


@pytest.mark.parametrize(("name", "overrides"), CASES, ids=IDS)
def test_forward_backward_reaches_every_parameter(name: str, overrides: dict, request: pytest.FixtureRequest) -> None:
    model = _model(name, overrides).train()
    batch = model_batch(model, make_items(lengths=[8, 5, 7], q_lengths=[4, 3, 2]))
    out = model(batch)
    for key, value in out.items():
        if torch.is_tensor(value) and value.is_floating_point():
            assert torch.isfinite(value).all(), key
    loss = model.loss(out, batch)
    assert "total" in loss and torch.isfinite(loss["total"]) and loss["total"] > 0
    loss["total"].backward()
    skip = UNREACHED.get(request.node.callspec.id)
    unused = []
    for pname, p in model.named_parameters():
        assert p.grad is None or torch.isfinite(p.grad).all(), pname
        if p.grad is None and not (skip and pname.startswith(skip)):
            unused.append(pname)
    assert not unused, f"parameters the loss never reaches: {unused}"


@pytest.mark.parametrize(("name", "overrides"), CASES, ids=IDS)
def test_outputs_decode_to_windows_in_seconds(name: str, overrides: dict) -> None:
    model = _model(name, overrides).eval()
    items = make_items(lengths=[8, 5, 7], q_lengths=[4, 3, 2], seed=1)
    batch = model_batch(model, items, labels=False)
    with torch.no_grad():
        decoded = model.predict(batch, k=5)
    assert len(decoded) == len(items)
    for pred, item in zip(decoded, items, strict=True):
        windows = pred["pred_relevant_windows"]
        assert 1 <= len(windows) <= 5
        for s, e, _ in windows:
            assert 0.0 <= s <= e <= item["duration"] + 1e-6
        scores = [w[2] for w in windows]
        assert scores == sorted(scores, reverse=True)
    assert has_stvg(decoded) == type(model).boxes  # the class flag says whether it predicts boxes


@pytest.mark.parametrize(("name", "overrides"), CASES, ids=IDS)
def test_padding_does_not_change_predictions(name: str, overrides: dict) -> None:
    model = _model(name, overrides).eval()
    short = make_items(lengths=[6], q_lengths=[3], seed=3)
    long = short + make_items(lengths=[9], q_lengths=[5], seed=4)
    long[1]["video_id"] = "other"
    a, b = model_batch(model, short, labels=False), model_batch(model, long, labels=False)
    for spec in FIELDS.values():  # garbage, not zeros, in row 0's padding
        if spec.name in b and spec.mask and spec.mask_kind == "padding" and b[spec.name].is_floating_point():
            b[spec.name][0][~b[spec.mask][0]] = 1e3
    with torch.no_grad():
        pa_, pb = model.predict(a, k=10), model.predict(b, k=10)
        ca, cb = model.curves(model(a), a), model.curves(model(b), b)
    torch.testing.assert_close(
        torch.tensor(pb[0]["pred_relevant_windows"]),
        torch.tensor(pa_[0]["pred_relevant_windows"]),
        rtol=1e-4,
        atol=1e-4,
    )
    assert set(ca[0]) == set(cb[0])
    for key in ca[0]:
        torch.testing.assert_close(torch.as_tensor(cb[0][key]), torch.as_tensor(ca[0][key]), rtol=1e-4, atol=1e-4)


def test_missing_batch_keys_are_named() -> None:
    model = build_model("tea", **tiny_model_config("tea"))
    batch = model_batch(model, make_items())
    del batch["narratives"]
    with pytest.raises(ValueError, match="narratives"):
        model(batch)
    baseline = build_model("tea", **tiny_model_config("tea", use_narrative_merge=False, use_paragraph_query=False))
    assert "narratives" not in baseline.required_keys
    assert torch.isfinite(baseline(batch)["start_logits"]).all()  # needs no narratives
