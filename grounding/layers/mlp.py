"""A plain multi-layer perceptron: Linear -> activation -> dropout, repeated, last layer linear."""

from __future__ import annotations

from torch import Tensor, nn

from grounding.layers.dropout import Dropout


class MLP(nn.Module):
    """``in_dim -> hidden_dim (x n_layers - 1) -> out_dim``; ``n_layers=1`` is a single Linear."""

    def __init__(self, in_dim: int, hidden_dim: int, out_dim: int, n_layers: int = 2, dropout: float = 0.0) -> None:
        super().__init__()
        if n_layers < 1:
            msg = f"MLP n_layers must be >= 1, got {n_layers}"
            raise ValueError(msg)
        dims = [in_dim] + [hidden_dim] * (n_layers - 1) + [out_dim]
        layers: list[nn.Module] = []
        for i, (a, b) in enumerate(zip(dims[:-1], dims[1:], strict=True)):
            layers.append(nn.Linear(a, b))
            if i < n_layers - 1:
                layers += [nn.ReLU(), Dropout(dropout)]
        self.net = nn.Sequential(*layers)

    def forward(self, x: Tensor) -> Tensor:
        return self.net(x)
