"""MASRA's context-aware codebook (design note section 2.5): K learnable entries that the
decoupled cross-attention (``grounding.layers.decoupled_cross_attention``) offers to every snippet
beside the query words, to absorb the attention of query-irrelevant snippets.

Each entry plus its own learnable positional embedding reads the query words through ``layers``
attention units of Eq. (6) (``query``; CG-DETR's query-conditioned dummies); ``query+video``
(default) also shifts every entry by a projection of the video's masked mean; ``none`` keeps
the entries static. K = 0 gives an empty codebook.

Ours (the design note encodes [entries; words; video mean] jointly, as CG-DETR encodes
[dummies; words] with a 2-layer Transformer encoder and keeps the dummies' outputs):

- the entries only *read* the words (cross-attention, entries <- words): they still depend on
  the query, the words are not rewritten (CG-DETR discards their encoded copies anyway), and the
  layer costs about a quarter of the joint encoder per query on CPU;
- the video enters as one shared additive shift ``W_v mean(video)``, not as a token. In the
  attention its effect is the same for all entries of a snippet's softmax: q_t . W_k W_v
  mean(video) raises or lowers the codebook's total share for snippets that look like the
  video's overall content (the role CG-DETR's prompt pool gives clip - video mean). It also
  makes the codebook of a mismatched (video, query) pair exact from the parts already computed
  (the query part of the other query, the video part of this video), so the mismatched-pair
  term needs no second pass through the encoder;
- the entries do not attend to each other; the orthogonality term keeps them apart (it reads
  the query part: the shared video shift is common to all entries by design).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import torch
from torch import Tensor, nn

from grounding.layers.attention_unit import AttentionUnit

CodebookContext = Literal["none", "query", "query+video"]


def masked_mean(x: Tensor, mask: Tensor) -> Tensor:
    """x (B, L, d), mask (B, L) -> (B, d), the mean over valid positions (0 when none)."""
    weight = mask.to(x.dtype).unsqueeze(-1)
    return (x * weight).sum(dim=1) / weight.sum(dim=1).clamp(min=1.0)


@dataclass
class CodebookParts:
    """A pair's codebook as its query part (B, K, d) and its video shift (B, 1, d) or None."""

    query: Tensor
    video: Tensor | None

    def total(self) -> Tensor:
        return self.query if self.video is None else self.query + self.video


class ContextCodebook(nn.Module):
    def __init__(
        self,
        dim: int,
        size: int = 45,
        heads: int = 8,
        dropout: float = 0.0,
        context: CodebookContext = "query+video",
        layers: int = 1,
    ) -> None:
        super().__init__()
        self.size, self.context = size, context
        self.entries = nn.Parameter(torch.randn(size, dim))  # C
        self.positions = nn.Parameter(torch.randn(size, dim))  # P_C
        reads_query = context != "none" and size > 0
        self.encoder = nn.ModuleList(AttentionUnit(dim, heads, dropout) for _ in range(layers if reads_query else 0))
        self.video_proj = nn.Linear(dim, dim) if context == "query+video" and size > 0 else None  # W_v

    def parts(self, video: Tensor, video_mask: Tensor, words: Tensor, word_mask: Tensor) -> CodebookParts:
        """video (B, L, d), words (B, Lq, d) with masks -> the pair's codebook in its two parts."""
        b = words.shape[0]
        entries = (self.entries + self.positions).to(words.dtype).unsqueeze(0).expand(b, -1, -1)
        every = torch.ones(b, self.size, dtype=torch.bool, device=words.device)
        for unit in self.encoder:
            entries = unit(entries, every, words, word_mask)  # entries <- words
        shift = self.video_proj(masked_mean(video, video_mask)).unsqueeze(1) if self.video_proj is not None else None
        return CodebookParts(entries, shift)

    def forward(self, video: Tensor, video_mask: Tensor, words: Tensor, word_mask: Tensor) -> Tensor:
        """The pair's codebook (B, K, d)."""
        return self.parts(video, video_mask, words, word_mask).total()


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
