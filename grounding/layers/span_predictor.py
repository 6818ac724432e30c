"""The conditioned span predictor of TEA Eq. (10-11) (EMB / VSLNet):

    V^ = H(V, Q)                          context-query attention, Eq. (11)
    h  = sigmoid(Conv1D(V^ || q))         foreground gate, q = weighted sum of words
    (p_s, p_e) = Softmax(LSTM(V^ o h))    start LSTM; the end LSTM reads the start LSTM's states
                                          (VSLNet's conditioning), each followed by an MLP on
                                          [LSTM state || V^]

It returns logits (the softmax is taken by the loss and by decoding), masked at padded snippets.
The LSTMs are unidirectional, so with suffix padding padded snippets never reach valid ones."""

from __future__ import annotations

import torch
from torch import Tensor, nn

from grounding.layers.cq_attention import ContextQueryAttention
from grounding.layers.highlight import HighlightHead
from grounding.layers.masking import MASKED_LOGIT, mask_logits, zero_padded
from grounding.layers.mlp import MLP
from grounding.layers.weighted_pool import WeightedPool


class SpanPredictor(nn.Module):
    """Takes its parts as arguments; ``SpanPredictor.build`` makes the standard one.
    ``highlight=None`` switches the foreground gate off (h = 1, highlight logits 0 at valid
    snippets); the sentence pool q feeds only the gate, so it goes with it."""

    def __init__(
        self,
        cq_attention: nn.Module,
        pool: nn.Module | None,
        highlight: nn.Module | None,
        start_lstm: nn.LSTM,
        end_lstm: nn.LSTM,
        start_head: nn.Module,
        end_head: nn.Module,
    ) -> None:
        super().__init__()
        self.cq_attention, self.pool, self.highlight = cq_attention, pool, highlight
        self.start_lstm, self.end_lstm = start_lstm, end_lstm
        self.start_head, self.end_head = start_head, end_head

    @classmethod
    def build(cls, dim: int, dropout: float = 0.2, use_highlight: bool = True) -> SpanPredictor:
        return cls(
            cq_attention=ContextQueryAttention(dim, dropout),
            pool=WeightedPool(dim) if use_highlight else None,
            highlight=HighlightHead(dim) if use_highlight else None,
            start_lstm=nn.LSTM(dim, dim, batch_first=True),
            end_lstm=nn.LSTM(dim, dim, batch_first=True),
            start_head=MLP(2 * dim, dim, 1, n_layers=2, dropout=dropout),
            end_head=MLP(2 * dim, dim, 1, n_layers=2, dropout=dropout),
        )

    def forward(
        self, v: Tensor, v_mask: Tensor, q: Tensor, q_mask: Tensor, keep_states: bool = False
    ) -> dict[str, Tensor]:
        """v (B, L, d), q (B, Lq, d) -> start_logits, end_logits, highlight_logits (B, L).
        ``keep_states`` also returns the last layers' states (B, L, d), zero at padding:
        ``fused_states`` (V^ o h), ``start_states`` and ``end_states`` (the two LSTMs), for a model
        built on top (Bridge-STG's bridge reads them)."""
        x = self.cq_attention(v, v_mask, q, q_mask)  # V^ = H(V, Q), Eq. (11)
        if self.highlight is not None and self.pool is not None:
            highlight = self.highlight(x, v_mask, self.pool(q, q_mask))  # Conv1D(V^ || q)
            x = x * torch.sigmoid(highlight).unsqueeze(-1)  # V^ o h
        else:
            highlight = torch.full(v_mask.shape, MASKED_LOGIT, dtype=x.dtype, device=x.device)
            highlight = highlight.masked_fill(v_mask, 0.0)
        x = zero_padded(x, v_mask)
        start_states, _ = self.start_lstm(x)
        end_states, _ = self.end_lstm(start_states)
        start = self.start_head(torch.cat([start_states, x], dim=-1)).squeeze(-1)
        end = self.end_head(torch.cat([end_states, x], dim=-1)).squeeze(-1)
        out = {
            "start_logits": mask_logits(start, v_mask),
            "end_logits": mask_logits(end, v_mask),
            "highlight_logits": highlight,
        }
        if keep_states:
            out |= {
                "fused_states": x,
                "start_states": zero_padded(start_states, v_mask),
                "end_states": zero_padded(end_states, v_mask),
            }
        return out
