"""The bridge builder, our stand-in for Bridge-STG's spatio-temporal semantic bridging (STSB) with
explicit temporal alignment (ETA) (notes 2.2.2; the paper's internals are unknown): a few learnable
bridging queries read the temporal branch's states together with the query words and the cached
reasoning prior, and become the only interface to the spatial decoder.

    memory = [H_1 + pos + e_1; ...; H_k + pos + e_k; Q + e_q; R + e_r; X + e_x]
    B <- LN(B + SelfAttn(B))
    B <- LN(B + CrossAttn(B, memory, bias))      bias = log(m + 1e-4) on the H keys, 0 elsewhere
    B <- LN(B + FFN(B))                          (n_layers times)

``H_1..H_k`` are the states of the temporal branch's last layers ("multi-layer aggregation" when
k > 1), ``pos`` their snippets' sine positions, ``e_*`` learned source embeddings, ``Q`` the query
words, ``R`` the prior's tokens and ``X`` the extra tokens (segment summary, span-end times) the
caller builds. ``m`` is the soft temporal mask (``temporal_mask``); without it no bias is added.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from grounding.layers.detr.feed_forward import FeedForward
from grounding.layers.detr.multi_head import ProjectedAttention
from grounding.layers.dropout import Dropout

MASK_EPS = 1e-4  # log(m + eps): a snippet outside the moment is damped, never excluded


class BridgeLayer(nn.Module):
    def __init__(self, dim: int, heads: int, ffn_dim: int, dropout: float = 0.1) -> None:
        super().__init__()
        self.self_attn = ProjectedAttention(dim, heads)
        self.cross_attn = ProjectedAttention(dim, heads)
        self.ffn = FeedForward(dim, ffn_dim, dropout)
        self.norms = nn.ModuleList(nn.LayerNorm(dim) for _ in range(3))
        self.drops = nn.ModuleList(Dropout(dropout) for _ in range(3))

    def forward(self, b: Tensor, memory: Tensor, memory_mask: Tensor, bias: Tensor | None = None) -> Tensor:
        """b (B, Nb, d), memory (B, M, d), memory_mask (B, M) bool, bias (B, 1, 1, M) or None."""
        every = torch.ones(b.shape[:2], dtype=torch.bool, device=b.device)
        b = self.norms[0](b + self.drops[0](self.self_attn(b, b, b, every)))
        b = self.norms[1](b + self.drops[1](self.cross_attn(b, memory, memory, memory_mask, bias)))
        return self.norms[2](b + self.drops[2](self.ffn(b)))


class BridgeBuilder(nn.Module):
    """``n_queries`` learnable bridging queries refined by ``n_layers`` ``BridgeLayer``s over the
    memory (see the module doc); ``n_states`` temporal state sources and ``n_token_sources`` other
    token sources (query, prior, extra) get a learned source embedding each."""

    def __init__(
        self,
        dim: int,
        heads: int,
        n_queries: int = 8,
        n_layers: int = 2,
        n_states: int = 2,
        n_token_sources: int = 3,
        dropout: float = 0.1,
    ) -> None:
        super().__init__()
        self.queries = nn.Parameter(torch.randn(n_queries, dim) * 0.02)
        self.state_embed = nn.Parameter(torch.randn(n_states, dim) * 0.02)
        self.token_embed = nn.Parameter(torch.randn(n_token_sources, dim) * 0.02)
        self.layers = nn.ModuleList(BridgeLayer(dim, heads, 2 * dim, dropout) for _ in range(n_layers))

    def forward(
        self,
        states: list[Tensor],
        state_mask: Tensor,
        state_pos: Tensor,
        tokens: list[tuple[Tensor, Tensor]],
        temporal_mask: Tensor | None = None,
    ) -> Tensor:
        """states: k tensors (B, L, d) with their mask (B, L) and positions (B, L, d); tokens: up to
        ``n_token_sources`` (tokens (B, n, d), mask (B, n)); temporal_mask (B, L) in [0, 1] or None
        -> bridging queries (B, n_queries, d)."""
        parts = [s + state_pos + self.state_embed[k] for k, s in enumerate(states)]
        masks = [state_mask] * len(states)
        for k, (x, m) in enumerate(tokens):
            parts.append(x + self.token_embed[k])
            masks.append(m)
        memory, memory_mask = torch.cat(parts, dim=1), torch.cat(masks, dim=1)
        bias = None
        if temporal_mask is not None:
            on_states = torch.log(temporal_mask + MASK_EPS).repeat(1, len(states))
            rest = memory.new_zeros(memory.shape[0], memory.shape[1] - on_states.shape[1])
            bias = torch.cat([on_states.to(memory.dtype), rest], dim=1)[:, None, None, :]
        b = self.queries.to(memory.dtype).expand(memory.shape[0], -1, -1)
        for layer in self.layers:
            b = layer(b, memory, memory_mask, bias)
        return b
