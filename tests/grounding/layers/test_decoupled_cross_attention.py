"""DAI: with an empty codebook each flavour is the unit it replaces and every snippet gives the
words all its mass; with a codebook the mass is shared and the codebook's values are never read;
the mismatched-pair word mass equals a call with the other query's words."""

from __future__ import annotations

import pytest
import torch

from grounding.layers import AttentionUnit
from grounding.layers.context_codebook import ContextCodebook
from grounding.layers.decoupled_cross_attention import DecoupledCrossAttention, DecoupledProjectedAttention
from grounding.layers.detr.multi_head import ProjectedAttention


def _inputs() -> tuple[torch.Tensor, ...]:
    torch.manual_seed(0)
    video, words = torch.randn(2, 7, 16), torch.randn(2, 20, 16)
    vm = torch.tensor([[True] * 7, [True] * 4 + [False] * 3])
    wm = torch.tensor([[True] * 20, [True] * 3 + [False] * 17])
    return video, vm, words, wm


def test_empty_codebook_equals_plain_cross_attention_with_word_mass_one() -> None:
    video, vm, words, wm = _inputs()
    plain = AttentionUnit(16, 4, 0.0).eval()
    dai = DecoupledCrossAttention(16, 4, 0.0, codebook=None).eval()
    dai.load_state_dict(plain.state_dict())
    torch.testing.assert_close(dai(video, vm, words, wm), plain(video, vm, words, wm))
    (call,) = dai.calls
    torch.testing.assert_close(call.word_mass, vm.float())  # 1 on snippets, 0 on padding
    assert call.codebook.shape == (2, 0, 16)
    k0 = DecoupledCrossAttention(16, 4, 0.0, codebook=ContextCodebook(16, size=0, heads=4)).eval()
    k0.load_state_dict(plain.state_dict(), strict=False)
    torch.testing.assert_close(k0(video, vm, words, wm), plain(video, vm, words, wm))


def test_projected_flavour_with_an_empty_codebook_is_the_detr_attention() -> None:
    video, vm, words, wm = _inputs()
    plain = ProjectedAttention(16, 4).eval()
    dai = DecoupledProjectedAttention(16, 4, codebook=None).eval()
    dai.load_state_dict(plain.state_dict())
    dai.target_mask = vm
    torch.testing.assert_close(dai(video, words, words, wm), plain(video, words, words, wm))
    torch.testing.assert_close(dai.calls[0].word_mass, vm.float())
    with pytest.raises(ValueError, match="key is value"):
        dai(video, words + 1, words, wm)


def test_codebook_takes_mass_but_gives_no_values() -> None:
    video, vm, words, wm = _inputs()
    book = ContextCodebook(16, size=5, heads=4, context="none")
    dai = DecoupledCrossAttention(16, 4, 0.0, codebook=book).eval()
    dai(video, vm, words, wm)
    mass = dai.calls[-1].word_mass[vm]
    assert ((mass > 0) & (mass < 1)).all()
    # words all masked: the whole softmax goes to the codebook, whose values are dropped: no context
    no_words = dai(video, vm, words, torch.zeros_like(wm))
    assert (dai.calls[-1].word_mass == 0).all()
    ctx_free = dai.drop(dai.norm(dai.fc_out(video))) * vm[..., None]
    torch.testing.assert_close(no_words, ctx_free)
    # one query word with a huge key score takes all the mass back from the codebook
    with torch.no_grad():
        book.entries.fill_(0.0)
        book.positions.fill_(0.0)
        dai.fc_key.bias.fill_(0.0)
        dai.fc_key.weight.copy_(torch.eye(16))
        dai.fc_query.weight.copy_(torch.eye(16))
        dai.fc_query.bias.fill_(0.0)
    loud = words.clone()
    loud[:, 0] = 1e3 * video[:, 0]  # aligned with snippet 0's query vector
    dai(video, vm, loud, wm)
    assert dai.calls[-1].word_mass[:, 0].min() > 0.99


@pytest.mark.parametrize("context", ["none", "query", "query+video"])
def test_mismatched_word_mass_equals_a_call_with_the_other_words(context: str) -> None:
    video, vm, words, wm = _inputs()
    dai = DecoupledCrossAttention(16, 4, 0.0, codebook=ContextCodebook(16, size=5, heads=4, context=context)).eval()
    dai(video, vm, words, wm)
    order = torch.tensor([1, 0])
    dai(video, vm, words[order], wm[order])
    first, second = dai.calls
    torch.testing.assert_close(dai.word_mass_with(first, order), second.word_mass)


def test_a_following_unit_uses_the_first_units_codebook() -> None:
    video, vm, words, wm = _inputs()
    first = DecoupledProjectedAttention(16, 4, codebook=ContextCodebook(16, size=5, heads=4)).eval()
    second = DecoupledProjectedAttention(16, 4, codebook=ContextCodebook(16, size=5, heads=4), follows=first).eval()
    assert second.codebook is None and not any(n.startswith("follows") for n, _ in second.named_parameters())
    first.target_mask = second.target_mask = vm
    first(video, words, words, wm)
    second(video * 2, words, words, wm)
    assert second.calls[0].parts is first.calls[0].parts
