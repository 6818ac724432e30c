"""Per-family adapters: chat prompts with unexpanded placeholders, image-token expansion, registry."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

from pipeline.backends.adapters import ADAPTERS, adapter_for


def load_adapter(folder: Path):  # noqa: ANN201
    from transformers import AutoConfig, AutoImageProcessor, AutoTokenizer

    config = AutoConfig.from_pretrained(folder)
    return adapter_for(
        config, AutoTokenizer.from_pretrained(folder), AutoImageProcessor.from_pretrained(folder, backend="pil")
    )


def test_chat_prompt_has_one_placeholder_per_image(tiny_model: Path) -> None:
    adapter = load_adapter(tiny_model)
    for n_images in (0, 1, 3):
        text = adapter.chat_prompt("Caption this frame.", n_images)
        assert text.count(adapter.image_token) == n_images
        assert "Caption this frame." in text
    assert adapter.chat_prompt("hi", 1).endswith(("ASSISTANT:", "<|im_start|>assistant\n"))


def test_encode_expands_each_image_to_its_tokens(tiny_model: Path) -> None:
    adapter = load_adapter(tiny_model)
    image_id = adapter.tokenizer.convert_tokens_to_ids(adapter.image_token)
    images = [np.zeros((56, 56, 3), np.uint8), np.zeros((112, 56, 3), np.uint8)]
    encoded = adapter.encode("Caption.", images)
    counts = adapter.image_token_counts(encoded.images, len(images))
    assert encoded.input_ids.count(image_id) == sum(counts) > len(images)
    assert set(encoded.images) == set(adapter.image_keys())


def test_unknown_family_names_the_known_ones() -> None:
    with pytest.raises(ValueError, match=r"unknown model family 'llava_nxt'; did you mean 'llava'\?"):
        adapter_for(SimpleNamespace(model_type="llava_nxt"), tokenizer=None)
    assert {"llava", "qwen2_vl", "qwen2_5_vl"} <= set(ADAPTERS.names())
