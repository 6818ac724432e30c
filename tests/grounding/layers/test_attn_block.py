from __future__ import annotations

import torch

from grounding.layers import AttentionUnit, AttnBlock


def test_attn_block_applies_eq9_in_order() -> None:
    torch.manual_seed(0)
    block = AttnBlock.build(dim=8, heads=2, dropout=0.0).eval()
    x, y = torch.randn(2, 5, 8), torch.randn(2, 3, 8)
    xm = torch.tensor([[True] * 5, [True, True, True, False, False]])
    ym = torch.tensor([[True, True, True], [True, True, False]])
    got_x, got_y = block(x, xm, y, ym)
    # X <- A(X, X); X <- A(X, Y); Y <- A(Y, Y); Y <- A(Y, X) with the updated X
    x1 = block.x_self(x, xm, x, xm)
    x2 = block.x_cross(x1, xm, y, ym)
    y1 = block.y_self(y, ym, y, ym)
    y2 = block.y_cross(y1, ym, x2, xm)
    torch.testing.assert_close(got_x, x2)
    torch.testing.assert_close(got_y, y2)
    assert not torch.allclose(got_y, block.y_cross(y1, ym, x1, xm))  # really reads the updated X


def test_attn_block_takes_its_units_as_arguments() -> None:
    units = [AttentionUnit(4, 1, 0.0) for _ in range(4)]
    block = AttnBlock(*units)
    assert [block.x_self, block.x_cross, block.y_self, block.y_cross] == units
    assert len(list(block.parameters())) == 4 * len(list(units[0].parameters()))
