"""Word masking for MESM's word rebuild: the rate, never padding or special tokens, and content
words favoured when a part-of-speech tagger is present."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from grounding.layers.word_masking import CONTENT_WEIGHT, PosWeights, choose_masked


def _valid(lengths: list[int], total: int) -> torch.Tensor:
    return torch.arange(total)[None, :] < torch.tensor(lengths)[:, None]


def test_rate_is_a_third_at_least_one_and_never_padding() -> None:
    lengths = [0, 1, 2, 3, 5, 9, 10, 16]
    valid = _valid(lengths, 16)
    g = torch.Generator().manual_seed(0)
    for _ in range(20):
        masked = choose_masked(valid, generator=g)
        assert masked.sum(1).tolist() == [0, 0, 1, 1, 1, 3, 3, 5]  # max(floor(n/3), 1); n <= 1 untouched
        assert not (masked & ~valid).any()


def test_special_tokens_are_never_masked() -> None:
    ids = torch.tensor([[101, 7, 8, 9, 102, 0], [101, 5, 102, 0, 0, 0]])
    pad = _valid([5, 3], 6)
    special = (ids == 101) | (ids == 102)
    g = torch.Generator().manual_seed(1)
    for _ in range(50):
        masked = choose_masked(pad & ~special, generator=g)
        assert not (masked & special).any() and not (masked & ~pad).any()
        assert masked[0].sum() == 1 and masked[1].sum() == 0  # 3 words -> 1; one word -> none


def test_weights_favour_content_words_in_proportion() -> None:
    # one sentence of 4 words, one masked per draw: P(word) = w / sum(w) = 2/5 for the heavy word
    valid, weights = _valid([4], 4), torch.tensor([[2.0, 1.0, 1.0, 1.0]])
    g = torch.Generator().manual_seed(2)
    hits = sum(int(choose_masked(valid, weights, generator=g)[0, 0]) for _ in range(4000))
    assert abs(hits / 4000 - 0.4) < 0.03


def fixed_tags(words: list[str]) -> list[tuple[str, str]]:
    """A hand-written tag table for the test sentence (the tagger stand-in when NLTK's is absent)."""
    table = {"a": "DT", "person": "NN", "quickly": "RB", "opens": "VBZ", "the": "DT", "red": "JJ", "door": "NN"}
    return [(w, table.get(w, "NN")) for w in words]


def test_pos_weights_follow_the_tags_and_word_pieces() -> None:
    pieces = ["[PAD]", "a", "person", "quick", "##ly", "opens", "the", "red", "door"]
    pw = PosWeights(pieces, tagger=fixed_tags)
    assert pw.mode == "pos"
    w = pw.token_weights([1, 2, 3, 4, 5, 6, 7, 8])  # a person quick ##ly opens the red door
    c = CONTENT_WEIGHT
    assert w.tolist() == [1.0, c, c, c, c, 1.0, c, c]  # "quickly" (RB): both its pieces weigh 2
    batch = pw.batch_weights(torch.tensor([[1, 2, 0], [6, 8, 5]]), _valid([2, 3], 3))
    assert batch.tolist() == [[1.0, c, 1.0], [1.0, c, c]]


def test_without_a_tagger_or_word_pieces_masking_is_uniform() -> None:
    assert PosWeights(["a"], tagger=None).mode == "uniform"
    no_pieces = PosWeights(None, tagger=fixed_tags)
    assert no_pieces.mode == "uniform" and "tokenizer" in no_pieces.reason
    assert no_pieces.batch_weights(torch.tensor([[1, 2]]), _valid([2], 2)) is None


def test_the_installed_tagger_when_there_is_one() -> None:
    pw = PosWeights(["[PAD]", "a", "person", "opens", "the", "door"])
    if pw.mode != "pos":
        pytest.skip(f"no part-of-speech tagger here ({pw.reason}): masking runs uniform")
    w = pw.token_weights([1, 2, 3, 4, 5])
    assert w[1] == w[4] == CONTENT_WEIGHT and w[0] == w[3] == 1.0 and np.isin(w[2], [1.0, CONTENT_WEIGHT])
