"""The position-wise feed-forward block of a transformer layer: Linear -> activation -> dropout
-> Linear (the residual and the norm belong to the layer). ``activation`` is ``relu`` (DETR,
QD-DETR), ``prelu`` (MESM's configs) or ``gelu``."""

from __future__ import annotations

from typing import Literal

from torch import Tensor, nn

from grounding.layers.dropout import Dropout

Activation = Literal["relu", "prelu", "gelu"]
ACTIVATIONS: dict[str, type[nn.Module]] = {"relu": nn.ReLU, "prelu": nn.PReLU, "gelu": nn.GELU}


class FeedForward(nn.Module):
    def __init__(self, dim: int, hidden: int, dropout: float = 0.1, activation: Activation = "relu") -> None:
        super().__init__()
        if activation not in ACTIVATIONS:
            msg = f"feed-forward activation '{activation}' is unknown; choose one of {', '.join(ACTIVATIONS)}"
            raise ValueError(msg)
        self.linear1 = nn.Linear(dim, hidden)
        self.activation = ACTIVATIONS[activation]()
        self.drop = Dropout(dropout)
        self.linear2 = nn.Linear(hidden, dim)

    def forward(self, x: Tensor) -> Tensor:
        return self.linear2(self.drop(self.activation(self.linear1(x))))
