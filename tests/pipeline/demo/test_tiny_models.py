"""The tiny model builders: fast, small, offline, loadable, deterministic in the seed."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
from safetensors.numpy import load_file

from pipeline.demo.tiny_models import build_tiny_llava, build_tiny_qwen2_vl

BUILDERS = [build_tiny_llava, build_tiny_qwen2_vl]


@pytest.mark.parametrize("build", BUILDERS, ids=lambda b: b.__name__)
def test_builds_small_and_fast_and_loads(build, tmp_path: Path) -> None:  # noqa: ANN001
    from transformers import AutoImageProcessor, AutoModelForImageTextToText, AutoTokenizer

    build(tmp_path / "warm")  # imports and first-call set-up are not part of the build time
    started = time.process_time()  # CPU seconds: other jobs on a shared machine do not count
    folder = build(tmp_path / "model")
    assert time.process_time() - started < 1.0
    size = sum(p.stat().st_size for p in folder.iterdir())
    assert size < 8 * 2**20
    model = AutoModelForImageTextToText.from_pretrained(folder)
    tokenizer = AutoTokenizer.from_pretrained(folder)
    processor = AutoImageProcessor.from_pretrained(folder, backend="pil")
    assert model.config.text_config.vocab_size == len(tokenizer)
    assert tokenizer.chat_template and tokenizer.padding_side == "left"
    assert processor.__class__.__name__.endswith("Pil")


def test_special_tokens_are_single_ids(tmp_path: Path) -> None:
    from transformers import AutoTokenizer

    llava = AutoTokenizer.from_pretrained(build_tiny_llava(tmp_path / "llava"))
    assert (
        llava("USER: <image>\nhi", add_special_tokens=False).input_ids.count(llava.convert_tokens_to_ids("<image>"))
        == 1
    )
    qwen = AutoTokenizer.from_pretrained(build_tiny_qwen2_vl(tmp_path / "qwen"))
    for token in ["<|im_start|>", "<|im_end|>", "<|vision_start|>", "<|image_pad|>", "<|vision_end|>"]:
        assert len(qwen(token, add_special_tokens=False).input_ids) == 1, token


def test_configs_carry_legacy_keys_for_older_transformers(tmp_path: Path) -> None:
    llava = json.loads((build_tiny_llava(tmp_path / "llava") / "config.json").read_text())
    assert "image_token_index" in llava
    qwen_dir = build_tiny_qwen2_vl(tmp_path / "qwen")
    qwen = json.loads((qwen_dir / "config.json").read_text())
    assert qwen["text_config"]["rope_scaling"]["type"] == "mrope"
    tokenizer = json.loads((qwen_dir / "tokenizer_config.json").read_text())
    assert tokenizer["tokenizer_class"] == "PreTrainedTokenizerFast"
    assert "<|image_pad|>" in tokenizer["additional_special_tokens"] and "extra_special_tokens" not in tokenizer
    processor = json.loads((qwen_dir / "preprocessor_config.json").read_text())
    assert processor["image_processor_type"] == "Qwen2VLImageProcessor"
    assert processor["max_pixels"] == processor["size"]["longest_edge"]


def test_same_seed_same_weights(tmp_path: Path) -> None:
    a = load_file(build_tiny_llava(tmp_path / "a", seed=3) / "model.safetensors")
    b = load_file(build_tiny_llava(tmp_path / "b", seed=3) / "model.safetensors")
    c = load_file(build_tiny_llava(tmp_path / "c", seed=4) / "model.safetensors")
    assert a.keys() == b.keys()
    assert all((a[k] == b[k]).all() for k in a)
    assert any((a[k] != c[k]).any() for k in a)
