"""Shapes, masking and the structural properties of the DETR-family layers."""

from __future__ import annotations

import torch

from grounding.layers.detr import (
    AnchorDecoder,
    GlobalTokenEncoder,
    InputProjection,
    SaliencyHead,
    SpanHead,
    T2VStack,
    frame_positions,
    span_embedding,
)
from grounding.layers.detr.feed_forward import FeedForward, PReLU


def _mask(lengths: list[int], total: int) -> torch.Tensor:
    return torch.arange(total)[None, :] < torch.tensor(lengths)[:, None]


def test_frame_positions_depend_on_the_relative_place_only() -> None:
    pos = frame_positions(_mask([4, 2], 4), 8)
    assert pos.shape == (2, 4, 8)
    # the last valid snippet of each video sits at 2 pi whatever the video's length
    torch.testing.assert_close(pos[0, 3], pos[1, 1], rtol=1e-4, atol=1e-4)
    assert span_embedding(torch.rand(3, 5, 2), 16).shape == (3, 5, 16)


def test_t2v_padded_reference_is_ignored() -> None:
    torch.manual_seed(0)
    stack = T2VStack(2, 16, 4, 32, dropout=0.0).eval()
    v, w = torch.randn(2, 6, 16), torch.randn(2, 5, 16)
    wm = _mask([5, 3], 5)
    w2 = w.clone()
    w2[1, 3:] = 1e3
    a = stack(v, frame_positions(_mask([6, 6], 6), 16), w, wm)
    b = stack(v, frame_positions(_mask([6, 6], 6), 16), w2, wm)
    torch.testing.assert_close(a, b)
    assert a.shape == (2, 6, 16)


def test_global_token_reads_frames_but_frames_never_read_it() -> None:
    torch.manual_seed(0)
    enc = GlobalTokenEncoder(2, 16, 4, 32, dropout=0.0).eval()
    x, mask = torch.randn(2, 5, 16), _mask([5, 3], 5)
    pos = frame_positions(mask, 16)
    g1, l1 = enc(x, mask, pos)
    with torch.no_grad():
        enc.token.add_(5.0)
    g2, l2 = enc(x, mask, pos)
    torch.testing.assert_close(l1, l2)  # snippets do not attend the token
    assert not torch.allclose(g1, g2)
    x2 = x.clone()
    x2[1, 3:] = 1e3  # padded snippets are not keys
    g3, l3 = enc(x2, mask, pos)
    torch.testing.assert_close(g3[1], g2[1], rtol=1e-4, atol=1e-4)
    torch.testing.assert_close(l3[1, :3], l2[1, :3], rtol=1e-4, atol=1e-4)


def test_anchor_decoder_starts_from_its_anchors_and_refines_with_gradient() -> None:
    torch.manual_seed(0)
    dec = AnchorDecoder(2, 16, 4, 32, dropout=0.0)
    anchors = torch.nn.Parameter(torch.randn(10, 2))
    memory, mask = torch.randn(3, 7, 16), _mask([7, 4, 2], 7)
    hs, refs = dec(memory, mask, frame_positions(mask, 16), anchors)
    assert hs.shape == (2, 3, 10, 16) and refs.shape == (2, 3, 10, 2)
    torch.testing.assert_close(refs[0], anchors.sigmoid().expand(3, 10, 2))
    torch.testing.assert_close(refs[1], refs[0])  # the box head's last layer starts at zero
    spans = SpanHead(16)(hs, refs)
    assert ((spans > 0) & (spans < 1)).all()
    spans.sum().backward()
    assert dec.box_head.net[-1].weight.grad is not None and anchors.grad is not None


def test_saliency_head_and_input_projection() -> None:
    head = SaliencyHead(8)
    mask = _mask([3, 1], 3)
    s = head(torch.randn(2, 3, 8), torch.randn(2, 8), mask)
    assert s.shape == (2, 3) and (s[1, 1:] < -1e3).all()
    proj = InputProjection(5, 8, n_blocks=2, dropout=0.0)
    assert proj(torch.randn(2, 3, 5)).shape == (2, 3, 8)


def test_prelu_matches_torch_in_every_precision_and_under_autocast() -> None:
    g = torch.Generator().manual_seed(0)
    x = torch.randn(64, 32, generator=g)
    x[0, :4] = 0.0
    ours, ref = PReLU(), torch.nn.PReLU()
    with torch.no_grad():
        ours.weight.fill_(0.3), ref.weight.fill_(0.3)
    for dtype in (torch.float32, torch.bfloat16):  # float32: torch's kernel; bfloat16: relu(x) - a relu(-x)
        xa, xb = (x.to(dtype).clone().requires_grad_() for _ in range(2))
        a, b = ours.to(dtype)(xa), ref.to(dtype)(xb)
        assert a.dtype == dtype and torch.equal(a, b)
        a.float().square().sum().backward(), b.float().square().sum().backward()
        torch.testing.assert_close(xa.grad, xb.grad)
        torch.testing.assert_close(ours.weight.grad, ref.weight.grad, rtol=2e-2, atol=1e-3)
        ours.weight.grad = ref.weight.grad = None
    ours, ref = ours.float(), ref.float()
    with torch.autocast("cpu", dtype=torch.bfloat16):
        a = ours(x)  # float32 input under autocast: the relu form, in float32
    assert a.dtype == torch.float32 and torch.equal(a, ref(x))
    assert isinstance(FeedForward(8, 16, activation="prelu").activation, PReLU)
