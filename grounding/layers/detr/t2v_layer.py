"""QD-DETR's text-to-video encoder layer ("T2V"): a target sequence attends a reference sequence
(cross-attention only, no self-attention among targets), post-norm:

    x = tgt + drop(Attn(q = tgt + pos_t, k = ref + pos_r, v = ref))
    x = LN2(x + drop(FFN(LN1(x))))

The FFN reads LN1(x) while the residual adds to the un-normalised x (QD-DETR's layer, kept as
released). QD-DETR uses it with video frames as targets and query words as reference (the
"aligner"); MESM also runs it the other way round (masked words attend ground-truth frames).
``T2VStack`` is several such layers with the same target / reference roles."""

from __future__ import annotations

from collections.abc import Sequence

from torch import Tensor, nn

from grounding.layers.detr.feed_forward import Activation, FeedForward
from grounding.layers.detr.multi_head import ProjectedAttention
from grounding.layers.dropout import Dropout


class T2VLayer(nn.Module):
    def __init__(
        self, dim: int, heads: int, ffn_dim: int, dropout: float = 0.1, activation: Activation = "relu"
    ) -> None:
        super().__init__()
        self.attn = ProjectedAttention(dim, heads)
        self.drop1, self.drop2 = Dropout(dropout), Dropout(dropout)
        self.norm1, self.norm2 = nn.LayerNorm(dim), nn.LayerNorm(dim)
        self.ffn = FeedForward(dim, ffn_dim, dropout, activation)

    def forward(
        self,
        tgt: Tensor,
        tgt_pos: Tensor | None,
        ref: Tensor,
        ref_mask: Tensor,
        ref_pos: Tensor | None = None,
        ffn: tuple[nn.Module, nn.Module, nn.Module] | None = None,
    ) -> Tensor:
        """tgt (B, Lt, d), ref (B, Lr, d), ref_mask (B, Lr) bool; positions None or like their
        sequence. ``ffn`` replaces this layer's (FFN, LN1, LN2) (MESM's ``share_MLP=false``)."""
        q = tgt if tgt_pos is None else tgt + tgt_pos
        k = ref if ref_pos is None else ref + ref_pos
        x = tgt + self.drop1(self.attn(q, k, ref, ref_mask))
        block, norm1, norm2 = ffn if ffn is not None else (self.ffn, self.norm1, self.norm2)
        return norm2(x + self.drop2(block(norm1(x))))


class T2VStack(nn.Module):
    """``n_layers`` T2V layers applied in order (Xavier-initialised matrices, as QD-DETR)."""

    def __init__(
        self, n_layers: int, dim: int, heads: int, ffn_dim: int, dropout: float = 0.1, activation: Activation = "relu"
    ) -> None:
        super().__init__()
        self.layers = nn.ModuleList(T2VLayer(dim, heads, ffn_dim, dropout, activation) for _ in range(n_layers))
        for p in self.parameters():
            if p.dim() > 1:
                nn.init.xavier_uniform_(p)

    def forward(
        self,
        tgt: Tensor,
        tgt_pos: Tensor | None,
        ref: Tensor,
        ref_mask: Tensor,
        ref_pos: Tensor | None = None,
        ffns: Sequence[tuple[nn.Module, nn.Module, nn.Module]] | None = None,
    ) -> Tensor:
        """``ffns``: per layer, the (FFN, LN1, LN2) to use instead of the layer's own."""
        for i, layer in enumerate(self.layers):
            tgt = layer(tgt, tgt_pos, ref, ref_mask, ref_pos, None if ffns is None else ffns[i])
        return tgt
