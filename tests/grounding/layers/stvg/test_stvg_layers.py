"""The spatio-temporal layers: box geometry against the evaluator's IoU and by hand, the frame
sampler's positives and negatives, the soft temporal masks, the bridge's temporal bias, the
spatial decoder's per-frame patch reading and its switches."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from grounding.layers.stvg import (
    BridgeBuilder,
    SpatialDecoder,
    box_cxcywh_to_xyxy,
    box_iou,
    box_xyxy_to_cxcywh,
    generalized_box_iou,
    inside_probability,
    sample_frames,
    soft_box,
)
from grounding.metrics.stvg import box_iou as evaluator_iou


def _boxes(g: torch.Generator, n: int) -> torch.Tensor:
    lo = torch.rand(n, 2, generator=g)
    return torch.cat([lo, lo + torch.rand(n, 2, generator=g)], dim=1)


def test_box_iou_equals_the_evaluators_and_giou_by_hand() -> None:
    g = torch.Generator().manual_seed(0)
    a, b = _boxes(g, 500), _boxes(g, 500)
    np.testing.assert_allclose(box_iou(a, b).numpy(), evaluator_iou(a.numpy(), b.numpy()), rtol=1e-5, atol=1e-6)
    one = torch.tensor([[0.0, 0.0, 1.0, 1.0]])
    far = torch.tensor([[2.0, 0.0, 3.0, 1.0]])  # IoU 0, hull 3 x 1, union 2: gIoU = 0 - (3 - 2) / 3
    assert generalized_box_iou(one, far).item() == pytest.approx(-1 / 3)
    assert generalized_box_iou(one, one).item() == pytest.approx(1.0)
    point = torch.tensor([[0.5, 0.5, 0.5, 0.5]])
    assert box_iou(point, point).item() == 0.0 and torch.isfinite(generalized_box_iou(point, point)).all()
    torch.testing.assert_close(box_xyxy_to_cxcywh(box_cxcywh_to_xyxy(a)), a)


def test_box_losses_have_finite_gradients_on_degenerate_boxes() -> None:
    a = torch.tensor([[0.5, 0.5, 0.0, 0.0], [0.2, 0.2, 0.1, 0.3]], requires_grad=True)
    b = torch.tensor([[0.5, 0.5, 0.5, 0.5], [0.2, 0.2, 0.3, 0.1]])
    (1 - generalized_box_iou(box_cxcywh_to_xyxy(a), b)).sum().backward()
    assert torch.isfinite(a.grad).all()


def test_frame_sampling_draws_positives_inside_and_negatives_outside() -> None:
    g = torch.Generator().manual_seed(3)
    presence = (torch.rand(64, 30, generator=g) > 0.6).float()
    valid = torch.arange(30)[None, :] < torch.randint(1, 31, (64, 1), generator=g)
    index, mask = sample_frames(presence, valid, n_pos=5, n_neg=3, generator=g)
    assert index.shape == mask.shape == (64, 8)
    for i in range(64):
        pos = index[i, :5][mask[i, :5]]
        neg = index[i, 5:][mask[i, 5:]]
        n_pos = int(((presence[i] > 0) & valid[i]).sum())
        n_neg = int(((presence[i] == 0) & valid[i]).sum())
        assert len(pos) == min(5, n_pos) and len(neg) == min(3, n_neg)
        assert bool((presence[i, pos] == 1).all() and valid[i, pos].all())  # positives: inside the GT only
        assert bool((presence[i, neg] == 0).all() and valid[i, neg].all())  # negatives: outside it only
        assert len(set(pos.tolist())) == len(pos) and len(set(neg.tolist())) == len(neg)
    none, none_mask = sample_frames(torch.zeros(2, 4), torch.ones(2, 4, dtype=torch.bool), 2, 0)
    assert not none_mask.any()


def test_soft_masks() -> None:
    mask = torch.ones(1, 10, dtype=torch.bool)
    box = soft_box(torch.tensor([[3.0, 6.0]]), torch.tensor([10.0]), mask, sigma=1.0)  # snippet i at i + 0.5 s
    assert box[0, 3:6].tolist() == [1.0, 1.0, 1.0]
    assert box[0, 2].item() == pytest.approx(np.exp(-(0.5**2) / 2)) and box[0, 0].item() < box[0, 2].item()
    start, end = torch.full((1, 10), -20.0), torch.full((1, 10), -20.0)
    start[0, 2], end[0, 5] = 20.0, 20.0
    inside = inside_probability(start, end, mask)
    assert inside[0, 2:6].min() > 0.99 and inside[0, :2].max() < 0.01 and inside[0, 6:].max() < 0.01
    padded = inside_probability(start, end, torch.arange(10)[None, :] < 4)
    assert padded[0, 4:].abs().max() == 0


def test_bridge_bias_damps_snippets_outside_the_mask() -> None:
    torch.manual_seed(0)
    bridge = BridgeBuilder(16, 4, n_queries=3, n_layers=1, n_states=1, n_token_sources=1, dropout=0.0).eval()
    states = torch.randn(1, 6, 16)
    mask = torch.ones(1, 6, dtype=torch.bool)
    tokens = [(torch.randn(1, 2, 16), torch.ones(1, 2, dtype=torch.bool))]
    m = torch.tensor([[1.0, 1.0, 1.0, 0.0, 0.0, 0.0]])
    changed = states.clone()
    changed[0, 4] += 5.0  # a snippet the mask leaves out
    with torch.no_grad():
        base = bridge([states], mask, torch.zeros(1, 6, 16), tokens, m)
        out_masked = bridge([changed], mask, torch.zeros(1, 6, 16), tokens, m)
        out_free = bridge([changed], mask, torch.zeros(1, 6, 16), tokens, None)
    assert base.shape == (1, 3, 16)
    assert (out_masked - base).abs().max() < 0.05 * (out_free - base).abs().max()


def test_spatial_decoder_reads_each_frames_own_patches_and_its_switches() -> None:
    torch.manual_seed(0)
    decoder = SpatialDecoder(16, 4, n_layers=2, dropout=0.0).eval()
    x, pos = torch.randn(1, 3, 16), torch.randn(1, 3, 16)
    mask = torch.tensor([[True, True, False]])
    guide, guide_mask = torch.randn(1, 2, 16), torch.ones(1, 2, dtype=torch.bool)
    patches, patch_pos = torch.randn(1, 3, 4, 16), torch.randn(4, 16)
    centres = torch.tensor([[0.25, 0.25], [0.75, 0.25], [0.25, 0.75], [0.75, 0.75]])
    boxes, presence = decoder(x, pos, mask, guide, guide_mask, patches, patch_pos, centres)
    assert boxes.shape == (2, 1, 3, 4) and presence.shape == (2, 1, 3) and ((boxes > 0) & (boxes < 1)).all()
    other = patches.clone()
    other[0, 2] = torch.randn(4, 16)  # the padded frame's patches: the real frames do not see them
    again, _ = decoder(x, pos, mask, guide, guide_mask, other, patch_pos, centres)
    torch.testing.assert_close(again[:, :, :2], boxes[:, :, :2])
    assert decoder.layers[1].guide_attn is not None
    assert SpatialDecoder(16, 4, n_layers=2, interactive=False).layers[1].guide_attn is None
    assert SpatialDecoder(16, 4, n_layers=3, update_guide=True).guide_update is not None


def test_frame_patch_attention_equals_projected_attention_with_one_query_per_frame() -> None:
    from grounding.layers.detr import ProjectedAttention
    from grounding.layers.stvg import FramePatchAttention

    torch.manual_seed(0)
    folded, plain = FramePatchAttention(16, 4), ProjectedAttention(16, 4)
    with torch.no_grad():
        for name in ("q_proj", "k_proj", "v_proj", "out_proj"):
            getattr(plain, name).weight.copy_(getattr(folded, name).weight)
            bias = getattr(folded, name).bias
            getattr(plain, name).bias.copy_(bias if bias is not None else torch.zeros(16))
    query, keys, values = torch.randn(5, 16), torch.randn(5, 9, 16), torch.randn(5, 9, 16)
    expected = plain(query[:, None], keys, values, torch.ones(5, 9, dtype=torch.bool))[:, 0]
    torch.testing.assert_close(folded(query, keys, values), expected, rtol=1e-5, atol=1e-5)
    plain.k_proj.bias.data.normal_()  # a key bias cancels in the softmax
    torch.testing.assert_close(
        folded(query, keys, values),
        plain(query[:, None], keys, values, torch.ones(5, 9, dtype=torch.bool))[:, 0],
        rtol=1e-5,
        atol=1e-5,
    )
