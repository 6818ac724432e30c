"""DAI: with an empty codebook it is the plain cross-attention unit and every snippet gives the
words all its mass; with a codebook the mass is shared and the codebook's values are never read."""

from __future__ import annotations

import pytest
import torch

from grounding.layers import AttentionUnit
from grounding.layers.context_codebook import ContextCodebook
from grounding.layers.decoupled_cross_attention import DecoupledCrossAttention


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
    torch.testing.assert_close(dai.last.word_mass, vm.float())  # 1 on snippets, 0 on padding
    assert dai.last.codebook.shape == (2, 0, 16)
    k0 = DecoupledCrossAttention(16, 4, 0.0, codebook=ContextCodebook(16, size=0, heads=4)).eval()
    k0.load_state_dict(plain.state_dict(), strict=False)
    torch.testing.assert_close(k0(video, vm, words, wm), plain(video, vm, words, wm))


def test_codebook_takes_mass_but_gives_no_values() -> None:
    video, vm, words, wm = _inputs()
    book = ContextCodebook(16, size=5, heads=4, context="none")
    dai = DecoupledCrossAttention(16, 4, 0.0, codebook=book).eval()
    out = dai.attend(video, vm, words, wm)
    mass = out.word_mass[vm]
    assert ((mass > 0) & (mass < 1)).all()
    # words all masked: the whole softmax goes to the codebook, whose values are dropped: no context
    no_words = dai.attend(video, vm, words, torch.zeros_like(wm))
    assert (no_words.word_mass == 0).all()
    ctx_free = dai.drop(dai.norm(dai.fc_out(video))) * vm[..., None]
    torch.testing.assert_close(no_words.out, ctx_free)
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
    assert dai.attend(video, vm, loud, wm).word_mass[:, 0].min() > 0.99


@pytest.mark.parametrize("context", ["none", "query", "query+video"])
def test_mismatched_word_mass_equals_a_call_with_the_other_words(context: str) -> None:
    video, vm, words, wm = _inputs()
    dai = DecoupledCrossAttention(16, 4, 0.0, codebook=ContextCodebook(16, size=5, heads=4, context=context)).eval()
    last = dai.attend(video, vm, words, wm)
    order = torch.tensor([1, 0])
    want = dai.attend(video, vm, words[order], wm[order]).word_mass
    torch.testing.assert_close(dai.word_mass_with(last, order), want)
