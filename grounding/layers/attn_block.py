"""The self/cross ``Attn`` block of TEA Eq. (8-9): four attention units applied in order

    X <- A(X, X);  X <- A(X, Y);  Y <- A(Y, Y);  Y <- A(Y, X)

(Y's cross step reads the updated X). Used on (video, query) in Eq. (8) and on
(narratives, query) in Eq. (12)."""

from __future__ import annotations

from torch import Tensor, nn

from grounding.layers.attention_unit import AttentionUnit


class AttnBlock(nn.Module):
    """Takes its four units as arguments (any module with AttentionUnit's signature);
    ``AttnBlock.build`` makes the standard one."""

    def __init__(self, x_self: nn.Module, x_cross: nn.Module, y_self: nn.Module, y_cross: nn.Module) -> None:
        super().__init__()
        self.x_self, self.x_cross, self.y_self, self.y_cross = x_self, x_cross, y_self, y_cross

    @classmethod
    def build(cls, dim: int, heads: int = 8, dropout: float = 0.2) -> AttnBlock:
        return cls(*(AttentionUnit(dim, heads, dropout) for _ in range(4)))

    def forward(self, x: Tensor, x_mask: Tensor, y: Tensor, y_mask: Tensor) -> tuple[Tensor, Tensor]:
        return self.rest(self.first(x, x_mask), x_mask, y, y_mask)

    def first(self, x: Tensor, x_mask: Tensor) -> Tensor:
        """X <- A(X, X): the step that reads X only (shared by all queries of a video)."""
        return self.x_self(x, x_mask, x, x_mask)

    def rest(self, x: Tensor, x_mask: Tensor, y: Tensor, y_mask: Tensor) -> tuple[Tensor, Tensor]:
        """The three steps after ``first``."""
        x = self.x_cross(x, x_mask, y, y_mask)
        y = self.y_self(y, y_mask, y, y_mask)
        y = self.y_cross(y, y_mask, x, x_mask)
        return x, y
