"""The pure-torch query encoder gives the same token ids as the pipeline's encoder (what the cache
stores, text schema version 2), and its word pieces name them."""

from __future__ import annotations

import numpy as np
import pytest

from grounding.text_encoder import MiniLMQueryEncoder, token_pieces


@pytest.mark.slow
def test_ids_match_the_pipeline_encoder_and_the_word_pieces() -> None:
    encoders = pytest.importorskip("pipeline.features.text")
    texts = ["person turns on the light.", "A man opens the door of a red car, then walks away!"]
    ours = MiniLMQueryEncoder().encode_with_ids(texts)
    reference = encoders.get_text_encoder("minilm")
    reference.setup()
    pieces = token_pieces(MiniLMQueryEncoder.name)
    assert pieces is not None
    for (_, tokens, ids), ref in zip(ours, reference.encode(texts), strict=True):
        assert ids.shape == (tokens.shape[0],)
        np.testing.assert_array_equal(ids, ref.ids)
        assert not {pieces[i] for i in ids} & {"[CLS]", "[SEP]", "[PAD]"}  # special tokens are not among them
    assert [pieces[i] for i in ours[0][2]][:3] == ["person", "turns", "on"]


def test_an_unknown_encoder_has_no_word_pieces() -> None:
    assert token_pieces("random-test-encoder") is None
