"""QD-DETR's input projection of video / text features to the hidden size: ``n`` blocks of
LayerNorm -> Dropout -> Linear, with a ReLU after every block but the last (QD-DETR / MESM:
two blocks, input dropout 0.5)."""

from __future__ import annotations

from torch import Tensor, nn

from grounding.layers.dropout import Dropout


class ProjectionBlock(nn.Module):
    def __init__(self, in_dim: int, out_dim: int, dropout: float, relu: bool) -> None:
        super().__init__()
        self.norm = nn.LayerNorm(in_dim)
        self.drop = Dropout(dropout)
        self.linear = nn.Linear(in_dim, out_dim)
        self.relu = relu

    def forward(self, x: Tensor) -> Tensor:
        x = self.linear(self.drop(self.norm(x)))
        return x.relu() if self.relu else x


class InputProjection(nn.Module):
    def __init__(self, in_dim: int, dim: int, n_blocks: int = 2, dropout: float = 0.5) -> None:
        super().__init__()
        if n_blocks < 1:
            msg = f"input projection needs at least one block, got {n_blocks}"
            raise ValueError(msg)
        dims = [in_dim] + [dim] * n_blocks
        self.blocks = nn.Sequential(
            *(
                ProjectionBlock(a, b, dropout, relu=i < n_blocks - 1)
                for i, (a, b) in enumerate(zip(dims[:-1], dims[1:], strict=True))
            )
        )

    def forward(self, x: Tensor) -> Tensor:
        """(..., in_dim) -> (..., dim)."""
        return self.blocks(x)
