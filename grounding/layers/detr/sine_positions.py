"""Sine position embeddings of the DETR family (DETR / DAB-DETR / QD-DETR).

- ``frame_positions``: per snippet, from its rank among the valid snippets normalised by the
  video's valid length and scaled to 2 pi (``PositionEmbeddingSine(normalize=True)``), so a
  snippet's embedding depends on its relative place in the video and never on the padding.
  (``grounding.layers.feature_encoder.sinusoidal_positions`` is the Transformer's absolute table,
  used by the span models; this is the relative one the anchor decoder's spans are compared with.)
- ``span_embedding``: a (centre, width) anchor in [0, 1] as dim / 2 sine features of the centre
  followed by dim / 2 of the width (DAB-DETR's ``gen_sineembed_for_position`` for 1-D spans);
- ``scalar_embedding``: one value in [0, 1] the same way (Bridge-STG's frame times and patch
  centres).
"""

from __future__ import annotations

import math

import torch
from torch import Tensor


def _sine(x: Tensor, dim: int, temperature: float) -> Tensor:
    """x (...,) -> (..., dim): interleaved sin / cos of x / temperature^(2 floor(i/2) / dim)."""
    i = torch.arange(dim, dtype=torch.float32, device=x.device)
    freq = temperature ** (2 * torch.div(i, 2, rounding_mode="floor") / dim)
    angles = x.float()[..., None] / freq
    return torch.stack([angles[..., 0::2].sin(), angles[..., 1::2].cos()], dim=-1).flatten(-2)


def frame_positions(mask: Tensor, dim: int, temperature: float = 10000.0) -> Tensor:
    """mask (B, L) bool -> (B, L, dim) float32; positions of padded snippets are not used."""
    rank = mask.cumsum(dim=1, dtype=torch.float32)
    total = rank[:, -1:].clamp(min=1.0)
    return _sine(rank / (total + 1e-6) * (2 * math.pi), dim, temperature)


def scalar_embedding(x: Tensor, dim: int, temperature: float = 10000.0) -> Tensor:
    """Values x (...,) in [0, 1] (a frame's time in its video, a patch centre's x or y) -> (..., dim)
    sine features of ``2 pi x``, as ``span_embedding`` embeds each of its two coordinates."""
    return _sine(x * (2 * math.pi), dim, temperature)


def span_embedding(spans: Tensor, dim: int, temperature: float = 10000.0) -> Tensor:
    """spans (..., 2) normalised (centre, width) -> (..., dim)."""
    half = dim // 2
    centre = _sine(spans[..., 0] * (2 * math.pi), half, temperature)
    width = _sine(spans[..., 1] * (2 * math.pi), half, temperature)
    return torch.cat([centre, width], dim=-1)
