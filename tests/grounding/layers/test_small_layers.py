"""MLP, weighted pooling, highlight head and the input feature encoder."""

from __future__ import annotations

import math

import pytest
import torch

from grounding.layers import MASKED_LOGIT, MLP, FeatureEncoder, HighlightHead, WeightedPool, sinusoidal_positions


def test_weighted_pool_is_a_softmax_weighted_sum_over_valid_words() -> None:
    pool = WeightedPool(2)
    with torch.no_grad():
        pool.weight.copy_(torch.tensor([1.0, 0.0]))
    q = torch.tensor([[[0.0, 1.0], [math.log(3.0), 2.0], [100.0, 100.0]]])
    out = pool(q, torch.tensor([[True, True, False]]))
    # scores 0 and log 3 -> weights 1/4 and 3/4; the padded word is ignored
    torch.testing.assert_close(out, torch.tensor([[0.75 * math.log(3.0), 0.25 * 1.0 + 0.75 * 2.0]]))


def test_highlight_head_is_conv1d_over_video_concat_sentence() -> None:
    head = HighlightHead(2)
    with torch.no_grad():
        head.conv.weight.copy_(torch.tensor([[[1.0], [2.0], [10.0], [0.0]]]))
        head.conv.bias.fill_(0.5)
    v = torch.tensor([[[1.0, 1.0], [0.0, 3.0], [7.0, 7.0]]])
    out = head(v, torch.tensor([[True, True, False]]), torch.tensor([[0.1, 9.0]]))
    assert out[0].tolist() == pytest.approx([1 + 2 + 1 + 0.5, 6 + 1 + 0.5, MASKED_LOGIT])


def test_mlp_layer_count_and_shapes() -> None:
    mlp = MLP(4, 8, 3, n_layers=3)
    assert sum(isinstance(m, torch.nn.Linear) for m in mlp.modules()) == 3
    assert mlp(torch.randn(2, 5, 4)).shape == (2, 5, 3)
    with pytest.raises(ValueError, match="n_layers"):
        MLP(4, 8, 3, n_layers=0)


def test_feature_encoder_projects_adds_positions_and_zeroes_padding() -> None:
    enc = FeatureEncoder(3, 4, dropout=0.0).eval()
    x = torch.randn(1, 5, 3)
    mask = torch.tensor([[True, True, True, False, False]])
    out = enc(x, mask)
    assert out.shape == (1, 5, 4) and (out[0, 3:] == 0).all()
    torch.testing.assert_close(out[:, :3], enc(x[:, :3], mask[:, :3]))
    want = torch.nn.functional.layer_norm(
        enc.proj(x) + sinusoidal_positions(5, 4), (4,), enc.norm.weight, enc.norm.bias
    )
    torch.testing.assert_close(out[:, :3], want[:, :3])


def test_sinusoidal_positions_values() -> None:
    table = sinusoidal_positions(3, 4)
    assert table[0].tolist() == [0.0, 1.0, 0.0, 1.0]
    assert table[2, 0].item() == pytest.approx(math.sin(2.0))
    assert table[2, 3].item() == pytest.approx(math.cos(2.0 / 100.0))
