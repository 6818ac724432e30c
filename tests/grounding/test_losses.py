from __future__ import annotations

import math

import pytest
import torch

from grounding.layers import MASKED_LOGIT
from grounding.losses import grounding_loss, highlight_loss, vmr_loss


def test_eq15_is_minus_log_of_the_candidate_mass_over_valid_snippets() -> None:
    start = torch.tensor([[0.0, math.log(2.0), math.log(3.0), 50.0]])  # last snippet padded
    end = torch.tensor([[math.log(4.0), 0.0, 0.0, -3.0]])
    mask = torch.tensor([[True, True, True, False]])
    s_label = torch.tensor([[0.0, 1.0, 1.0, 1.0]])  # candidates {1, 2}; the padded one is ignored
    e_label = torch.tensor([[1.0, 0.0, 0.0, 0.0]])
    got = vmr_loss(start, end, s_label, e_label, mask)
    # p_s = [1, 2, 3] / 6 -> -log(5/6); p_e = [4, 1, 1] / 6 -> -log(4/6)
    assert got.item() == pytest.approx(-math.log(5 / 6) - math.log(4 / 6), rel=1e-6)


def test_eq15_averages_over_the_batch_and_padding_logit_value_does_not_matter() -> None:
    start = torch.tensor([[1.0, 2.0, MASKED_LOGIT], [0.0, 0.0, 0.0]])
    label = torch.tensor([[1.0, 0.0, 0.0], [0.0, 0.0, 1.0]])
    mask = torch.tensor([[True, True, False], [True, True, True]])
    row0 = -torch.log_softmax(torch.tensor([1.0, 2.0]), 0)[0]
    want = (2 * row0 + 2 * math.log(3.0)) / 2
    assert vmr_loss(start, start, label, label, mask).item() == pytest.approx(want.item(), rel=1e-6)
    start2 = start.clone()
    start2[0, 2] = 123.0
    assert vmr_loss(start2, start2, label, label, mask).item() == pytest.approx(want.item(), rel=1e-6)


def test_empty_candidate_set_is_an_error_naming_the_rows() -> None:
    mask = torch.tensor([[True, True, False]])
    with pytest.raises(ValueError, match=r"end_label.*rows \[0\]"):
        vmr_loss(torch.zeros(1, 3), torch.zeros(1, 3), torch.tensor([[1.0, 0, 0]]), torch.tensor([[0.0, 0, 1]]), mask)


def test_eq16_bce_over_valid_snippets_only() -> None:
    logits = torch.tensor([[0.0, 2.0, 99.0]])
    label = torch.tensor([[1.0, 0.0, 0.0]])
    mask = torch.tensor([[True, True, False]])
    want = (math.log(2.0) + math.log1p(math.exp(2.0))) / 2
    assert highlight_loss(logits, label, mask).item() == pytest.approx(want, rel=1e-6)


def test_eq17_total_is_vmr_plus_lambda_highlight_and_keys_select_heads() -> None:
    torch.manual_seed(0)
    b, length = 2, 5
    mask = torch.ones(b, length, dtype=torch.bool)
    batch = {
        "video_mask": mask,
        "start_label": torch.eye(length)[[0, 1]],
        "end_label": torch.eye(length)[[2, 3]],
        "highlight_label": (torch.rand(b, length) > 0.5).float(),
    }
    out = {k: torch.randn(b, length) for k in ("start_logits", "end_logits", "highlight_logits", "other_highlight")}
    loss = grounding_loss(out, batch, highlight_weight=5.0)
    assert set(loss) == {"total", "vmr", "highlight"}
    assert loss["total"].item() == pytest.approx(loss["vmr"].item() + 5.0 * loss["highlight"].item(), rel=1e-6)
    both = grounding_loss(out, batch, 5.0, highlight_keys=("highlight_logits", "other_highlight"))
    h2 = highlight_loss(out["other_highlight"], batch["highlight_label"], mask)
    assert both["highlight"].item() == pytest.approx((loss["highlight"].item() + h2.item()) / 2, rel=1e-6)
    none = grounding_loss(out, batch, 5.0, highlight_keys=())
    assert none["highlight"].item() == 0.0 and none["total"].item() == pytest.approx(loss["vmr"].item())
