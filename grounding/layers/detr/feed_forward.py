"""The position-wise feed-forward block of a transformer layer: Linear -> activation -> dropout
-> Linear (the residual and the norm belong to the layer). ``activation`` is ``relu`` (DETR,
QD-DETR), ``prelu`` (MESM's configs) or ``gelu``.

``prelu`` is ``torch.nn.PReLU`` with one slope a, computed as relu(x) - a relu(-x) whenever the
input is not float32 or autocast is on (same values, same parameter): CPU autocast runs aten's
prelu in bfloat16, whose backward took 11 % of a bf16 ``mesm`` step at Charades-STA scale, 3x
the time of this form (bench/README.md, "DETR family")."""

from __future__ import annotations

from typing import Literal

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from grounding.layers.dropout import Dropout

Activation = Literal["relu", "prelu", "gelu"]


class PReLU(nn.PReLU):
    """``nn.PReLU()`` (one slope), in the relu form outside plain float32 (module docstring)."""

    def forward(self, x: Tensor) -> Tensor:
        if self.num_parameters != 1 or (x.dtype == torch.float32 and not torch.is_autocast_enabled(x.device.type)):
            return super().forward(x)
        a = self.weight.to(x.dtype)
        return F.relu(x) - a * F.relu(-x)


ACTIVATIONS: dict[str, type[nn.Module]] = {"relu": nn.ReLU, "prelu": PReLU, "gelu": nn.GELU}


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
