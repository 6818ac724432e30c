"""The spatial decoder, our stand-in for Bridge-STG's query-guided spatial localisation (QGSL,
notes 2.2.3): DETR-style, one query per selected frame, post-norm layers of

    x <- LN(x + SelfAttn(x + pos))                          across the frames of a query
    x <- LN(x + CrossAttn(x + pos, guide))                  the bridging queries (re-injected at every
                                                            layer when ``interactive``, else the first only)
    x <- LN(x + CrossAttn(x + pos, patches_t + patch_pos))  each frame reads its own P patch tokens
    x <- LN(x + FFN(x))

with shared heads at every layer (auxiliary losses): a box MLP (3 layers) -> sigmoid (cx, cy, w, h)
in [0, 1] of the frame, and a presence logit ("the target is visible and in the moment here").
``update_guide`` also moves the guide towards the frames' mean between layers (B <- LN(B +
W mean(x))). ``guide`` is the bridging queries (``bridge``) or, in the coupled baseline, the query
words."""

from __future__ import annotations

import torch
from torch import Tensor, nn

from grounding.layers.detr.feed_forward import FeedForward
from grounding.layers.detr.multi_head import ProjectedAttention
from grounding.layers.dropout import Dropout
from grounding.layers.mlp import MLP


class SpatialDecoderLayer(nn.Module):
    """``guided=False``: a layer that never reads the guide (has no cross-attention to it)."""

    def __init__(self, dim: int, heads: int, ffn_dim: int, dropout: float = 0.1, guided: bool = True) -> None:
        super().__init__()
        self.self_attn = ProjectedAttention(dim, heads)
        self.guide_attn = ProjectedAttention(dim, heads) if guided else None
        self.patch_attn = ProjectedAttention(dim, heads)
        self.ffn = FeedForward(dim, ffn_dim, dropout)
        self.norms = nn.ModuleList(nn.LayerNorm(dim) if guided or k != 1 else nn.Identity() for k in range(4))
        self.drops = nn.ModuleList(Dropout(dropout) for _ in range(4))

    def forward(self, x: Tensor, pos: Tensor, mask: Tensor, guide: Tensor | None, guide_mask: Tensor | None,
                patches: Tensor, patch_pos: Tensor) -> Tensor:
        """x, pos (B, S, d); mask (B, S) bool; guide (B, Nb, d) or None (not injected here);
        patches (B, S, P, d); patch_pos (P, d) -> (B, S, d)."""
        q = x + pos
        x = self.norms[0](x + self.drops[0](self.self_attn(q, q, x, mask)))
        if guide is not None and self.guide_attn is not None:
            x = self.norms[1](x + self.drops[1](self.guide_attn(x + pos, guide, guide, guide_mask)))
        b, s, p, d = patches.shape
        per_frame = (x + pos).reshape(b * s, 1, d)
        keys = (patches + patch_pos).reshape(b * s, p, d)
        every = torch.ones(b * s, p, dtype=torch.bool, device=x.device)
        read = self.patch_attn(per_frame, keys, patches.reshape(b * s, p, d), every).reshape(b, s, d)
        x = self.norms[2](x + self.drops[2](read))
        return self.norms[3](x + self.drops[3](self.ffn(x)))


class SpatialDecoder(nn.Module):
    def __init__(self, dim: int, heads: int, n_layers: int = 3, dropout: float = 0.1, interactive: bool = True,
                 update_guide: bool = False) -> None:
        super().__init__()
        self.layers = nn.ModuleList(SpatialDecoderLayer(dim, heads, 2 * dim, dropout, guided=interactive or i == 0)
                                    for i in range(n_layers))
        self.interactive, self.update_guide = interactive, update_guide
        self.guide_update = nn.ModuleList(nn.Linear(dim, dim) for _ in range(n_layers - 1)) if update_guide else None
        self.guide_norm = nn.LayerNorm(dim) if update_guide else None
        self.box_head = MLP(dim, dim, 4, n_layers=3)
        self.presence_head = nn.Linear(dim, 1)

    def forward(self, x: Tensor, pos: Tensor, mask: Tensor, guide: Tensor, guide_mask: Tensor, patches: Tensor,
                patch_pos: Tensor) -> tuple[Tensor, Tensor]:
        """-> boxes (layers, B, S, 4) sigmoid (cx, cy, w, h), presence logits (layers, B, S)."""
        boxes, presence = [], []
        for i, layer in enumerate(self.layers):
            injected = guide if (self.interactive or i == 0) else None
            x = layer(x, pos, mask, injected, guide_mask, patches, patch_pos)
            boxes.append(self.box_head(x).sigmoid())
            presence.append(self.presence_head(x).squeeze(-1))
            if self.guide_update is not None and self.guide_norm is not None and i < len(self.guide_update):
                weights = mask.unsqueeze(-1).to(x.dtype)
                pooled = (x * weights).sum(1) / weights.sum(1).clamp(min=1.0)
                guide = self.guide_norm(guide + self.guide_update[i](pooled).unsqueeze(1))
        return torch.stack(boxes), torch.stack(presence)
