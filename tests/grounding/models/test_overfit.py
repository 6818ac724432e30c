"""Both models must drive the loss of one small batch to near zero: the pieces fit together and
the gradient reaches every part. About 100 Adam steps on CPU each."""

from __future__ import annotations

import pytest
import torch

from grounding.models import build_model
from tests.grounding.models.batches import make_batch, tiny_config


@pytest.mark.slow
@pytest.mark.parametrize("name", ["span", "tea"])
def test_overfits_one_batch(name: str) -> None:
    torch.manual_seed(0)
    model = build_model(name, **tiny_config(hidden=32, dropout=0.0))
    batch = make_batch(lengths=[12, 10, 8, 12], q_lengths=[4, 3, 5, 2], seed=1)
    opt = torch.optim.Adam(model.parameters(), lr=3e-3)
    first = None
    for _ in range(100):
        loss = model.loss(model(batch), batch)
        first = first if first is not None else loss["total"].item()
        opt.zero_grad()
        loss["total"].backward()
        opt.step()
    final = model.loss(model(batch), batch)
    assert first > 3.0
    assert final["total"].item() < 0.02, {k: v.item() for k, v in final.items()}
    assert final["vmr"].item() < 0.01 and final["highlight"].item() < 0.005
