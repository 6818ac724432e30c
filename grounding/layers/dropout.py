"""Dropout whose CPU mask costs a fifth of ``torch.nn.Dropout``'s.

On CPU, ``nn.Dropout`` draws one Bernoulli variable per element at ~8 ns each: 10% of a TEA
training step at Charades-STA scale (bench/README.md). This module draws 64 random bits per four
elements with the same generator (``torch.manual_seed`` makes it reproducible) and keeps an
element when its 16-bit slice is at least ``round(p * 65536)``, so the drop rate is p to within
2**-17 and the kept elements are scaled by 1 / (1 - p), as in ``nn.Dropout``. On other devices, and
in eval mode, it is ``nn.functional.dropout``. The random stream differs from ``nn.Dropout``'s, so
a given seed trains to different (equally valid) weights than with it."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

_LEVELS = 1 << 16


def keep_mask(shape: torch.Size, p: float, device: torch.device | None = None) -> Tensor:
    """Bool mask of ``shape``, each element True with probability 1 - p (to within 2**-17)."""
    n = shape.numel()
    words = torch.empty((n + 3) // 4, dtype=torch.int64, device=device).random_(-(1 << 63), None)
    threshold = round(p * _LEVELS) - (1 << 15)  # int16 slices are uniform on [-32768, 32767]
    return (words.view(torch.int16)[:n] >= threshold).view(shape)


class Dropout(nn.Module):
    """Drop-in for ``nn.Dropout(p)`` (not in place)."""

    def __init__(self, p: float = 0.5) -> None:
        super().__init__()
        if not 0.0 <= p < 1.0:
            msg = f"dropout probability must be in [0, 1), got {p}"
            raise ValueError(msg)
        self.p = p

    def forward(self, x: Tensor) -> Tensor:
        if not self.training or self.p == 0.0:
            return x
        if x.device.type != "cpu":
            return F.dropout(x, self.p, training=True)
        return x * (keep_mask(x.shape, self.p, x.device).to(x.dtype) * (1.0 / (1.0 - self.p)))

    def extra_repr(self) -> str:
        return f"p={self.p}"
