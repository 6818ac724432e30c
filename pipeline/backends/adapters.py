"""Per-family prompt and image handling, one small adapter object per model family.

An adapter is chosen from ``ADAPTERS`` by the model config's ``model_type``: no
``if model == "llava"`` chains. It knows the family's chat format and image placeholder
(``chat_prompt``: what a vLLM or OpenAI-style engine needs, placeholders unexpanded) and, for
the transformers backend, how to turn images into tensors and how many placeholder tokens each
image takes (``encode``).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

from groundwork.registry import Registry

LLAVA_CHAT_TEMPLATE = (
    "{% for message in messages %}"
    "{% if message['role'] == 'user' %}USER: {% else %}ASSISTANT: {% endif %}"
    "{% if message['content'] is string %}{{ message['content'] }}"
    "{% else %}{% for item in message['content'] %}"
    "{% if item['type'] == 'image' %}<image>\n{% elif item['type'] == 'text' %}{{ item['text'] }}{% endif %}"
    "{% endfor %}{% endif %}"
    "{% if message['role'] == 'user' %} {% else %}{{ eos_token }}{% endif %}"
    "{% endfor %}"
    "{% if add_generation_prompt %}ASSISTANT:{% endif %}"
)

QWEN2_VL_CHAT_TEMPLATE = (
    "{% for message in messages %}"
    "<|im_start|>{{ message['role'] }}\n"
    "{% if message['content'] is string %}{{ message['content'] }}"
    "{% else %}{% for item in message['content'] %}"
    "{% if item['type'] == 'image' %}<|vision_start|><|image_pad|><|vision_end|>"
    "{% elif item['type'] == 'text' %}{{ item['text'] }}{% endif %}"
    "{% endfor %}{% endif %}<|im_end|>\n"
    "{% endfor %}"
    "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)


@dataclass
class EncodedPrompt:
    """One request ready for the model: token ids (image placeholders expanded) and image tensors."""

    input_ids: list[int]
    images: dict[str, torch.Tensor] = field(default_factory=dict)


def check_image(image: np.ndarray, index: int) -> None:
    """Refuse anything that is not an HxWx3 uint8 RGB frame, naming what came."""
    if not isinstance(image, np.ndarray):
        msg = f"image {index}: expected a numpy array, got {type(image).__name__}"
        raise ValueError(msg)
    if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8 or min(image.shape[:2]) < 2:
        msg = f"image {index}: expected an HxWx3 uint8 array, got shape {image.shape} dtype {image.dtype}"
        raise ValueError(msg)


class ModelAdapter(ABC):
    """Chat format, image placeholder and image preprocessing of one model family."""

    image_token: str = ""
    default_chat_template: str = ""

    def __init__(self, tokenizer: Any, config: Any, image_processor: Any = None) -> None:
        self.tokenizer = tokenizer
        self.config = config
        self.image_processor = image_processor
        self.chat_template = getattr(tokenizer, "chat_template", None) or self.default_chat_template

    def chat_prompt(self, prompt: str, n_images: int) -> str:
        """The full prompt string, one unexpanded image placeholder per image, before the text."""
        content = [{"type": "image"} for _ in range(n_images)] + [{"type": "text", "text": prompt}]
        messages = [{"role": "user", "content": content}]
        return self.tokenizer.apply_chat_template(
            messages, chat_template=self.chat_template, add_generation_prompt=True, tokenize=False
        )

    def encode(self, prompt: str, images: list[np.ndarray]) -> EncodedPrompt:
        """Token ids with each image placeholder expanded to the tokens its image takes."""
        for i, image in enumerate(images):
            check_image(image, i)
        ids = self.tokenizer(self.chat_prompt(prompt, len(images)), add_special_tokens=False).input_ids
        tensors = self.preprocess(images) if images else {}
        counts = self.image_token_counts(tensors, len(images))
        image_id = self.tokenizer.convert_tokens_to_ids(self.image_token)
        if ids.count(image_id) != len(images):
            msg = f"prompt has {ids.count(image_id)} '{self.image_token}' placeholders for {len(images)} images"
            raise ValueError(msg)
        expanded: list[int] = []
        for token in ids:
            expanded.extend([token] * counts.pop(0) if token == image_id else [token])
        return EncodedPrompt(input_ids=expanded, images=tensors)

    def preprocess(self, images: list[np.ndarray]) -> dict[str, torch.Tensor]:
        out = self.image_processor(images=images, return_tensors="pt")
        return {name: out[name] for name in self.image_keys()}

    @abstractmethod
    def image_keys(self) -> list[str]:
        """Names of the image tensors the model's forward takes."""

    @abstractmethod
    def image_token_counts(self, tensors: dict[str, torch.Tensor], n_images: int) -> list[int]:
        """How many placeholder tokens each image expands to."""

    def token_inputs(self, input_ids: torch.Tensor) -> dict[str, torch.Tensor]:
        """Per-token model inputs besides ids and mask that the family needs (none by default)."""
        return {}

    def collate_images(self, encoded: list[EncodedPrompt]) -> dict[str, torch.Tensor]:
        """Image tensors of a batch, concatenated in prompt order (both families take them so)."""
        present = [e.images for e in encoded if e.images]
        if not present:
            return {}
        return {name: torch.cat([t[name] for t in present]) for name in self.image_keys()}


ADAPTERS: Registry[type[ModelAdapter]] = Registry("model family")


@ADAPTERS.register("llava")
class LlavaAdapter(ModelAdapter):
    """LLaVA-1.5: CLIP patches, one ``<image>`` token per patch (the CLS token dropped by default)."""

    image_token = "<image>"
    default_chat_template = LLAVA_CHAT_TEMPLATE

    def image_keys(self) -> list[str]:
        return ["pixel_values"]

    def image_token_counts(self, tensors: dict[str, torch.Tensor], n_images: int) -> list[int]:
        vision = self.config.vision_config
        n = (vision.image_size // vision.patch_size) ** 2
        if self.config.vision_feature_select_strategy == "full":
            n += 1
        return [n] * n_images


@ADAPTERS.register("qwen2_vl")
@ADAPTERS.register("qwen2_5_vl")
class Qwen2VLAdapter(ModelAdapter):
    """Qwen2-VL / Qwen2.5-VL: dynamic resolution; an image takes (t*h*w) / merge^2 pad tokens."""

    image_token = "<|image_pad|>"
    default_chat_template = QWEN2_VL_CHAT_TEMPLATE

    def image_keys(self) -> list[str]:
        return ["pixel_values", "image_grid_thw"]

    def token_inputs(self, input_ids: torch.Tensor) -> dict[str, torch.Tensor]:
        """Which tokens are image tokens: transformers 5.x needs it for M-RoPE's 3D positions
        (without it, generate silently falls back to 1D text positions)."""
        image_id = self.tokenizer.convert_tokens_to_ids(self.image_token)
        return {"mm_token_type_ids": (input_ids == image_id).to(torch.int32)}

    def image_token_counts(self, tensors: dict[str, torch.Tensor], n_images: int) -> list[int]:
        if n_images == 0:
            return []
        merge = self.config.vision_config.spatial_merge_size
        return [int(thw.prod()) // (merge * merge) for thw in tensors["image_grid_thw"]]


def adapter_for(config: Any, tokenizer: Any, image_processor: Any = None) -> ModelAdapter:
    """The adapter registered for ``config.model_type`` (a did-you-mean error otherwise)."""
    return ADAPTERS.get(config.model_type)(tokenizer, config, image_processor)
