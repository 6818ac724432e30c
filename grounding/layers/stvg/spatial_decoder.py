"""The spatial decoder, our stand-in for Bridge-STG's query-guided spatial localisation (QGSL,
notes 2.2.3): DETR-style, one query per selected frame, post-norm layers of

    x <- LN(x + SelfAttn(x + pos))                          across the frames of a query
    x <- LN(x + CrossAttn(x + pos, guide))                  the bridging queries (re-injected at every
                                                            layer when ``interactive``, else the first only)
    x <- LN(x + CrossAttn(x + pos, patches_t + patch_pos))  each frame reads its own P patch tokens
                                                            (``frame_patch_attention``: projections folded)
    x <- LN(x + FFN(x))

The patch tokens' 2-D positions go into the values as well as the keys (DETR keeps them out of
the values; here what a frame reads should say where it looked). Shared heads at every layer
(auxiliary losses): a box MLP (3 layers) giving (cx, cy) as an offset, in logit space, from the
layer's reference point -- the patch centres weighted by the frame's attention over its patches,
so a frame that looks at the target has its box there (our choice, like DAB-DETR's anchors:
without it the decoder sat on a plateau for 15 epochs of the demo) -- and sigmoid (w, h), all in
[0, 1] of the frame; and a presence logit ("the target is visible and in the moment here").
``update_guide`` also moves the guide towards the frames' mean between layers (B <- LN(B +
W mean(x))). ``guide`` is the bridging queries (``bridge``) or, in the coupled baseline, the query
words."""

from __future__ import annotations

import torch
from torch import Tensor, nn

from grounding.layers.detr.feed_forward import FeedForward
from grounding.layers.detr.multi_head import ProjectedAttention
from grounding.layers.detr.span_ops import inverse_sigmoid
from grounding.layers.dropout import Dropout
from grounding.layers.mlp import MLP
from grounding.layers.stvg.frame_patch_attention import FramePatchAttention


class SpatialDecoderLayer(nn.Module):
    """``guided=False``: a layer that never reads the guide (has no cross-attention to it)."""

    def __init__(self, dim: int, heads: int, ffn_dim: int, dropout: float = 0.1, guided: bool = True) -> None:
        super().__init__()
        self.self_attn = ProjectedAttention(dim, heads)
        self.guide_attn = ProjectedAttention(dim, heads) if guided else None
        self.patch_attn = FramePatchAttention(dim, heads)
        self.ffn = FeedForward(dim, ffn_dim, dropout)
        self.norms = nn.ModuleList(nn.LayerNorm(dim) if guided or k != 1 else nn.Identity() for k in range(4))
        self.drops = nn.ModuleList(Dropout(dropout) for _ in range(4))

    def forward(
        self,
        x: Tensor,
        pos: Tensor,
        mask: Tensor,
        guide: Tensor | None,
        guide_mask: Tensor | None,
        patches: Tensor,
        patch_pos: Tensor,
        patch_keys: Tensor | None = None,
    ) -> tuple[Tensor, Tensor]:
        """x, pos (B, S, d); mask (B, S) bool; guide (B, Nb, d) or None (not injected here);
        patches (B, S, P, d); patch_pos (P, d); patch_keys: ``patches + patch_pos`` when the caller
        has it (the decoder adds it once for all layers) -> (B, S, d) and each frame's attention over
        its patches (B, S, P), averaged over heads."""
        q = x + pos
        x = self.norms[0](x + self.drops[0](self.self_attn(q, q, x, mask)))
        if guide is not None and self.guide_attn is not None:
            x = self.norms[1](x + self.drops[1](self.guide_attn(x + pos, guide, guide, guide_mask)))
        b, s, p, d = patches.shape
        keys = patches + patch_pos if patch_keys is None else patch_keys
        keys = keys.reshape(b * s, p, d)
        read, attn = self.patch_attn((x + pos).reshape(b * s, d), keys, keys, weights=True)  # values say where
        x = self.norms[2](x + self.drops[2](read.reshape(b, s, d)))
        return self.norms[3](x + self.drops[3](self.ffn(x))), attn.reshape(b, s, p)


class SpatialDecoder(nn.Module):
    def __init__(
        self,
        dim: int,
        heads: int,
        n_layers: int = 3,
        dropout: float = 0.1,
        interactive: bool = True,
        update_guide: bool = False,
    ) -> None:
        super().__init__()
        self.layers = nn.ModuleList(
            SpatialDecoderLayer(dim, heads, 2 * dim, dropout, guided=interactive or i == 0) for i in range(n_layers)
        )
        self.interactive, self.update_guide = interactive, update_guide
        self.guide_update = nn.ModuleList(nn.Linear(dim, dim) for _ in range(n_layers - 1)) if update_guide else None
        self.guide_norm = nn.LayerNorm(dim) if update_guide else None
        self.box_head = MLP(dim, dim, 4, n_layers=3)
        self.presence_head = nn.Linear(dim, 1)

    def forward(
        self,
        x: Tensor,
        pos: Tensor,
        mask: Tensor,
        guide: Tensor,
        guide_mask: Tensor,
        patches: Tensor,
        patch_pos: Tensor,
        patch_centres: Tensor,
    ) -> tuple[Tensor, Tensor]:
        """patch_centres (P, 2): each patch's (x, y) centre in [0, 1] -> boxes (layers, B, S, 4) in
        [0, 1] (cx, cy, w, h), presence logits (layers, B, S)."""
        boxes, presence = [], []
        keys = patches + patch_pos
        for i, layer in enumerate(self.layers):
            injected = guide if (self.interactive or i == 0) else None
            x, attn = layer(x, pos, mask, injected, guide_mask, patches, patch_pos, keys)
            reference = attn @ patch_centres.to(attn.dtype)  # where the frame looked: the box centre's anchor
            offsets = self.box_head(x)
            centre = (offsets[..., :2] + inverse_sigmoid(reference.clamp(1e-4, 1 - 1e-4))).sigmoid()
            boxes.append(torch.cat([centre, offsets[..., 2:].sigmoid()], dim=-1))
            presence.append(self.presence_head(x).squeeze(-1))
            if self.guide_update is not None and self.guide_norm is not None and i < len(self.guide_update):
                weights = mask.unsqueeze(-1).to(x.dtype)
                pooled = (x * weights).sum(1) / weights.sum(1).clamp(min=1.0)
                guide = self.guide_norm(guide + self.guide_update[i](pooled).unsqueeze(1))
        return torch.stack(boxes), torch.stack(presence)
