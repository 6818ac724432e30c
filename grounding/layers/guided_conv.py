"""The guided mechanism of TEA Eq. (7) (from EMB): each snippet sees, besides its own feature,
the running max-pool of all snippets up to it and of all snippets from it to the end:

    V <- Conv2D({ V, {Maxpool(s_1..s_l)}_l, {Maxpool(s_l..s_L)}_l })

The three (L, d) maps are stacked as channels and one 2-D convolution (3 -> 1 channels, a
k x k kernel over time x hidden) fuses them. Padded snippets take no part in either max-pool."""

from __future__ import annotations

import torch
from torch import Tensor, nn

from grounding.layers.masking import zero_padded


def running_max(x: Tensor, reverse: bool = False) -> Tensor:
    """Max of x (B, L, d) over positions 1..l (``reverse``: l..L) at every l, by log2(L) doubling
    steps of element-wise maxima: exactly ``cummax``'s values, twice as fast on CPU forward but
    ten times slower backward, so with autograd on it is ``cummax``."""
    if x.requires_grad:
        flipped = x.flip(1) if reverse else x
        values = torch.cummax(flipped, dim=1).values
        return values.flip(1) if reverse else values
    out, shift = x, 1
    while shift < x.shape[1]:
        if reverse:
            out = torch.cat([torch.maximum(out[:, :-shift], out[:, shift:]), out[:, -shift:]], dim=1)
        else:
            out = torch.cat([out[:, :shift], torch.maximum(out[:, shift:], out[:, :-shift])], dim=1)
        shift *= 2
    return out


class GuidedConv(nn.Module):
    def __init__(self, kernel_size: int = 3) -> None:
        super().__init__()
        if kernel_size % 2 != 1:
            msg = f"guided conv: kernel_size must be odd, got {kernel_size}"
            raise ValueError(msg)
        self.conv = nn.Conv2d(3, 1, kernel_size, padding=kernel_size // 2)

    def forward(self, v: Tensor, mask: Tensor) -> Tensor:
        """v (B, L, d), mask (B, L) -> (B, L, d)."""
        low = torch.finfo(v.dtype).min
        filled = v.masked_fill(~mask.unsqueeze(-1), low)
        prefix = running_max(filled)  # Maxpool(s_1..s_l)
        suffix = running_max(filled, reverse=True)  # Maxpool(s_l..s_L)
        maps = [zero_padded(m, mask) for m in (v, prefix, suffix)]
        stacked = torch.stack(maps, dim=1).contiguous(memory_format=torch.channels_last)  # faster on CPU
        out = self.conv(stacked).squeeze(1)
        return zero_padded(out, mask)
