"""The DAB-DETR-style anchor decoder QD-DETR uses: Q learned (centre, width) anchors refined layer
by layer.

Per layer l, with the current anchor a = (c, w) (sigmoid space) and the content t (zeros at l=0):

    s = sine(a)                                   (d/2 for c, d/2 for w)
    p = MLP_ref(s)                                query position
    s = s * MLP_scale(t)   (not at l = 0)         conditional scaling ("cond_elewise")
    s = s * sigmoid(MLP_anchor(t)) / w            width-modulated attention
    t = LN1(t + SelfAttn(q = Wqc t + Wqp p, k = Wkc t + Wkp p, v = Wv t))
    t = LN2(t + CrossAttn(q = [Wqc' t (+ Wqp' p at l = 0) | Ws s] per head,
                          k = [Wkc' m (+ Wkp' pos at l = 0) | Wkp' pos] per head, v = Wv' m))
    t = LN3(t + FFN(t))
    a <- sigmoid(MLP_box(t) + logit(a)), detached before the next layer

The cross-attention concatenates content and position per head, so its scores are 2d/h wide
while the values stay d/h (``grounding.layers.attend`` takes values of another width). The
box MLP's last layer starts at zero, so the first refinement keeps the anchors. Returns every
layer's normed output and the anchor each layer started from (the heads add their span offset
to it)."""

from __future__ import annotations

import torch
from torch import Tensor, nn

from grounding.layers.attend import attend, merge_heads, split_heads
from grounding.layers.detr.feed_forward import Activation, FeedForward
from grounding.layers.detr.sine_positions import span_embedding
from grounding.layers.detr.span_ops import inverse_sigmoid
from grounding.layers.dropout import Dropout
from grounding.layers.mlp import MLP


def _concat_heads(content: Tensor, position: Tensor, heads: int) -> Tensor:
    """(B, n, d) content and position -> (B, h, n, 2 d/h): head j is [content_j | position_j]."""
    return torch.cat([split_heads(content, heads), split_heads(position, heads)], dim=-1)


class AnchorDecoderLayer(nn.Module):
    """``is_first``: the layer whose cross-attention adds the query / key positions to the
    content (DAB-DETR's keep_query_pos=False: later layers have no query-position projection)."""

    def __init__(
        self,
        dim: int,
        heads: int,
        ffn_dim: int,
        dropout: float = 0.1,
        activation: Activation = "relu",
        is_first: bool = False,
    ) -> None:
        super().__init__()
        if dim % heads != 0:
            msg = f"anchor decoder: hidden size {dim} is not divisible by heads={heads}"
            raise ValueError(msg)
        self.heads = heads
        lin = lambda: nn.Linear(dim, dim)  # noqa: E731
        self.sa_q_content, self.sa_q_pos, self.sa_k_content, self.sa_k_pos, self.sa_v, self.sa_out = (
            lin() for _ in range(6)
        )
        self.ca_q_content, self.ca_k_content, self.ca_k_pos, self.ca_v, self.ca_out = (lin() for _ in range(5))
        self.ca_q_pos = lin() if is_first else None
        self.is_first = is_first
        self.ca_q_sine = lin()
        self.ffn = FeedForward(dim, ffn_dim, dropout, activation)
        self.norm1, self.norm2, self.norm3 = nn.LayerNorm(dim), nn.LayerNorm(dim), nn.LayerNorm(dim)
        self.drop1, self.drop2, self.drop3 = Dropout(dropout), Dropout(dropout), Dropout(dropout)

    def forward(
        self, tgt: Tensor, memory: Tensor, memory_mask: Tensor, pos: Tensor, query_pos: Tensor, query_sine: Tensor
    ) -> Tensor:
        """tgt (B, Q, d), memory (B, L, d), memory_mask (B, L), pos (B, L, d), query_pos and
        query_sine (B, Q, d) -> (B, Q, d)."""
        h = self.heads
        q = self.sa_q_content(tgt) + self.sa_q_pos(query_pos)
        k = self.sa_k_content(tgt) + self.sa_k_pos(query_pos)
        every = torch.ones(tgt.shape[:2], dtype=torch.bool, device=tgt.device)
        sa = merge_heads(attend(split_heads(q, h), split_heads(k, h), split_heads(self.sa_v(tgt), h), every))
        tgt = self.norm1(tgt + self.drop1(self.sa_out(sa)))

        q, k, k_pos = self.ca_q_content(tgt), self.ca_k_content(memory), self.ca_k_pos(pos)
        if self.ca_q_pos is not None:  # keep_query_pos=False: positions join the content in the first layer only
            q, k = q + self.ca_q_pos(query_pos), k + k_pos
        ca = attend(
            _concat_heads(q, self.ca_q_sine(query_sine), h),
            _concat_heads(k, k_pos, h),
            split_heads(self.ca_v(memory), h),
            memory_mask,
        )
        tgt = self.norm2(tgt + self.drop2(self.ca_out(merge_heads(ca))))
        return self.norm3(tgt + self.drop3(self.ffn(tgt)))


class AnchorDecoder(nn.Module):
    def __init__(
        self, n_layers: int, dim: int, heads: int, ffn_dim: int, dropout: float = 0.1, activation: Activation = "relu"
    ) -> None:
        super().__init__()
        self.layers = nn.ModuleList(
            AnchorDecoderLayer(dim, heads, ffn_dim, dropout, activation, is_first=i == 0) for i in range(n_layers)
        )
        for p in self.layers.parameters():
            if p.dim() > 1:
                nn.init.xavier_uniform_(p)
        self.dim = dim
        self.ref_point_head = MLP(dim, dim, dim, n_layers=2)
        self.query_scale = MLP(dim, dim, dim, n_layers=2)
        self.ref_anchor_head = MLP(dim, dim, 1, n_layers=2)
        self.box_head = MLP(dim, dim, 2, n_layers=3)
        nn.init.zeros_(self.box_head.net[-1].weight)
        nn.init.zeros_(self.box_head.net[-1].bias)
        self.norm = nn.LayerNorm(dim)

    def forward(self, memory: Tensor, memory_mask: Tensor, pos: Tensor, anchors: Tensor) -> tuple[Tensor, Tensor]:
        """memory (B, L, d), memory_mask (B, L), pos (B, L, d), anchors (Q, 2) unsigmoided
        (centre, width) -> hs (layers, B, Q, d), references (layers, B, Q, 2) in [0, 1]."""
        b, n_q = memory.shape[0], anchors.shape[0]
        tgt = memory.new_zeros(b, n_q, self.dim)
        ref = anchors.sigmoid().to(memory.dtype).expand(b, n_q, 2)
        outputs, refs = [], [ref]
        for i, layer in enumerate(self.layers):
            sine = span_embedding(ref, self.dim).to(memory.dtype)
            query_pos = self.ref_point_head(sine)
            if i > 0:
                sine = sine * self.query_scale(tgt)
            width = ref[..., 1].clamp(min=1e-6)
            sine = sine * (self.ref_anchor_head(tgt).sigmoid()[..., 0] / width).unsqueeze(-1)  # modulated attention
            tgt = layer(tgt, memory, memory_mask, pos, query_pos, sine)
            refined = (self.box_head(tgt) + inverse_sigmoid(ref)).sigmoid()  # iterative refinement
            if i < len(self.layers) - 1:
                refs.append(refined)  # with its gradient: the next layer's prediction trains the box head
            ref = refined.detach()  # the next layer itself starts from a detached anchor
            outputs.append(self.norm(tgt))
        return torch.stack(outputs), torch.stack(refs)
