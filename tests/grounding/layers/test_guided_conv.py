from __future__ import annotations

import numpy as np
import pytest
import torch

from grounding.layers import GuidedConv


def _select_channel(conv: GuidedConv, channel: int) -> None:
    """Kernel that copies one input channel (centre tap 1, the rest 0)."""
    with torch.no_grad():
        conv.conv.weight.zero_()
        conv.conv.bias.zero_()
        k = conv.conv.weight.shape[-1] // 2
        conv.conv.weight[0, channel, k, k] = 1.0


def test_the_three_channels_are_the_sequence_and_its_prefix_and_suffix_max() -> None:
    v = torch.tensor([[[1.0, -2.0], [3.0, -5.0], [0.0, 4.0], [9.0, 9.0]]])  # last snippet padded
    mask = torch.tensor([[True, True, True, False]])
    guided = GuidedConv(kernel_size=3)
    expected = {
        0: [[1, -2], [3, -5], [0, 4], [0, 0]],
        1: [[1, -2], [3, -2], [3, 4], [0, 0]],  # max over s_1..s_l
        2: [[3, 4], [3, 4], [0, 4], [0, 0]],  # max over s_l..s_L, the padded 9 excluded
    }
    for channel, want in expected.items():
        _select_channel(guided, channel)
        np.testing.assert_allclose(guided(v, mask).detach().numpy()[0], np.array(want, dtype=np.float32))


def test_full_kernel_matches_a_direct_convolution_and_padding_is_invariant() -> None:
    torch.manual_seed(0)
    guided = GuidedConv(kernel_size=3)
    v = torch.randn(1, 5, 4)
    mask = torch.ones(1, 5, dtype=torch.bool)
    padded = torch.cat([v, 100 * torch.randn(1, 3, 4)], dim=1)
    pmask = torch.cat([mask, torch.zeros(1, 3, dtype=torch.bool)], dim=1)
    short, long = guided(v, mask), guided(padded, pmask)
    torch.testing.assert_close(long[:, :5], short)
    assert (long[:, 5:] == 0).all()
    maps = torch.stack([v, torch.cummax(v, 1).values, torch.cummax(v.flip(1), 1).values.flip(1)], dim=1)
    want = torch.nn.functional.conv2d(maps, guided.conv.weight, guided.conv.bias, padding=1).squeeze(1)
    torch.testing.assert_close(short, want)


def test_even_kernel_is_rejected() -> None:
    with pytest.raises(ValueError, match="odd"):
        GuidedConv(kernel_size=2)
