"""MASRA's context-aware codebook (design note section 2.5): K learnable entries that the
decoupled cross-attention (``grounding.layers.decoupled_cross_attention``) offers to every snippet
beside the query words, to absorb the attention of query-irrelevant snippets.

Following CG-DETR's query-conditioned dummy tokens: the entries plus their own learnable
positional embeddings are encoded together with the query words (``query``) and, by default,
one more token, the masked mean of the video (``query+video``); the first K outputs are the
codebook of that (video, query) pair. ``none`` keeps the entries static. The encoder is
``layers`` attention units of Eq. (6) over the joint sequence (CG-DETR: a 2-layer Transformer
encoder; the house's unit has no feed-forward sub-layer). K = 0 gives an empty codebook."""

from __future__ import annotations

from typing import Literal

import torch
from torch import Tensor, nn

from grounding.layers.attention_unit import AttentionUnit

CodebookContext = Literal["none", "query", "query+video"]


def masked_mean(x: Tensor, mask: Tensor) -> Tensor:
    """x (B, L, d), mask (B, L) -> (B, d), the mean over valid positions (0 when none)."""
    weight = mask.to(x.dtype).unsqueeze(-1)
    return (x * weight).sum(dim=1) / weight.sum(dim=1).clamp(min=1.0)


class ContextCodebook(nn.Module):
    def __init__(self, dim: int, size: int = 45, heads: int = 8, dropout: float = 0.0,
                 context: CodebookContext = "query+video", layers: int = 2) -> None:
        super().__init__()
        self.size, self.context = size, context
        self.entries = nn.Parameter(torch.randn(size, dim))  # C
        self.positions = nn.Parameter(torch.randn(size, dim))  # P_C
        self.encoder = nn.ModuleList(AttentionUnit(dim, heads, dropout) for _ in range(layers)) if (
            context != "none" and size > 0) else nn.ModuleList()

    def forward(self, video: Tensor, video_mask: Tensor, words: Tensor, word_mask: Tensor) -> Tensor:
        """video (B, L, d), words (B, Lq, d) with masks -> the pair's codebook (B, K, d)."""
        b = words.shape[0]
        entries = (self.entries + self.positions).to(words.dtype).unsqueeze(0).expand(b, -1, -1)
        if self.context == "none" or self.size == 0:
            return entries
        tokens, masks = [entries, words], [torch.ones(b, self.size, dtype=torch.bool, device=words.device), word_mask]
        if self.context == "query+video":
            tokens.append(masked_mean(video, video_mask).unsqueeze(1))
            masks.append(torch.ones(b, 1, dtype=torch.bool, device=words.device))
        x, mask = torch.cat(tokens, dim=1), torch.cat(masks, dim=1)
        for unit in self.encoder:
            x = unit(x, mask, x, mask)
        return x[:, : self.size]


def orthogonality_loss(codebook: Tensor) -> Tensor:
    """Mean |cos| between distinct entries of each (B, K, d) codebook (CG-DETR's dummy term);
    0 for K < 2."""
    k = codebook.shape[1]
    if k < 2:
        return codebook.sum() * 0.0
    unit = nn.functional.normalize(codebook, dim=-1)
    cos = (unit @ unit.transpose(1, 2)).abs()
    off = ~torch.eye(k, dtype=torch.bool, device=codebook.device)
    return cos[:, off].mean()
