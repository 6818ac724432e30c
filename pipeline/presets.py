"""Model presets: the named vision-language models the pipeline knows how to serve well.

A preset holds what a user should not have to look up: the hub id, which chat-format adapter
applies (``pipeline.backends.adapters.ADAPTERS``), the pixel budget per image with the image-token
count it gives, the engine's context length and default sampling. ``--model`` takes a preset name,
a local model folder, or any hub id (``resolve_model``); a folder or unknown hub id runs without a
preset, with the adapter chosen from its config's ``model_type``.

``default_backend_name()`` is ``vllm`` whenever the ``vllm`` package is installed, else
``transformers``: the config's default for ``backend``.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from groundwork.registry import Registry
from pipeline.backends.base import SamplingConfig

QWEN_PATCH_PIXELS = 28 * 28  # a 14-px patch merged 2x2: one image token per 28x28 pixels
QWEN_MIN_PIXELS = 4 * QWEN_PATCH_PIXELS


class ModelPreset(BaseModel):
    """One named model. ``image_tokens`` is what one image at the budget costs in the prompt."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str
    hub_id: str
    adapter: str  # name in ADAPTERS: chat format and image placeholder
    max_image_pixels: int = Field(gt=0)  # the budget: frames are resized to at most this many pixels
    image_tokens: int = Field(gt=0)  # placeholder tokens one image takes at the budget
    max_model_len: int = Field(4096, gt=0)
    resizes_to_budget: bool = False  # True: the processor takes min_pixels/max_pixels (Qwen2-VL family)
    sampling: SamplingConfig = SamplingConfig()

    def mm_processor_kwargs(self) -> dict[str, Any]:
        """Processor arguments that hold images to the budget (so vLLM's memory profiling reserves
        for ``image_tokens`` per image, not for the model's 16k-token maximum)."""
        if not self.resizes_to_budget:
            return {}  # fixed-size models: the processor resizes every image to the budget already
        return {"min_pixels": QWEN_MIN_PIXELS, "max_pixels": self.max_image_pixels}


PRESETS: Registry[ModelPreset] = Registry("model preset")


def _register(preset: ModelPreset) -> None:
    PRESETS.register(preset.name)(preset)


def _llava(name: str, hub_id: str) -> ModelPreset:
    # CLIP ViT-L/14 at 336 px: (336 / 14)^2 = 576 patch tokens per image, whatever the frame size.
    return ModelPreset(name=name, hub_id=hub_id, adapter="llava", max_image_pixels=336 * 336, image_tokens=576)


def _qwen(name: str, hub_id: str, adapter: str, side: int = 448) -> ModelPreset:
    # Dynamic resolution: the processor keeps the aspect ratio within side*side pixels, so a frame
    # costs at most side^2 / 28^2 tokens (256 at 448 px) instead of up to 16,384 by default.
    pixels = side * side
    return ModelPreset(
        name=name,
        hub_id=hub_id,
        adapter=adapter,
        max_image_pixels=pixels,
        image_tokens=pixels // QWEN_PATCH_PIXELS,
        max_model_len=8192,
        resizes_to_budget=True,
    )


for _preset in (
    _llava("llava-1.5-7b", "llava-hf/llava-1.5-7b-hf"),
    _llava("llava-1.5-13b", "llava-hf/llava-1.5-13b-hf"),
    # LLaVA-NeXT "anyres": the base 336-px view plus up to a 2x2 grid of 336-px tiles, with one
    # newline token per tile row: 576 + 48 * 49 = 2,928 tokens for a frame at the 672x672 budget.
    ModelPreset(
        name="llava-next-7b",
        hub_id="llava-hf/llava-v1.6-vicuna-7b-hf",
        adapter="llava",
        max_image_pixels=672 * 672,
        image_tokens=2928,
    ),
    _qwen("qwen2-vl-2b", "Qwen/Qwen2-VL-2B-Instruct", "qwen2_vl"),
    _qwen("qwen2-vl-7b", "Qwen/Qwen2-VL-7B-Instruct", "qwen2_vl"),
    _qwen("qwen2.5-vl-3b", "Qwen/Qwen2.5-VL-3B-Instruct", "qwen2_5_vl"),
    _qwen("qwen2.5-vl-7b", "Qwen/Qwen2.5-VL-7B-Instruct", "qwen2_5_vl"),
):
    _register(_preset)


def resolve_model(name_or_path: str) -> tuple[str, ModelPreset | None]:
    """``(what to load, preset or None)`` for a preset name, a local folder or a hub id.

    A local folder wins over a preset of the same name; a hub id that a preset names gets that
    preset; a bare name that is neither a folder nor a preset is refused with a did-you-mean."""
    folder = Path(name_or_path).expanduser()
    if folder.is_dir():
        return str(folder), None
    if "/" in name_or_path and not name_or_path.startswith((".", "/", "~")):
        by_hub_id = {PRESETS.get(name).hub_id: PRESETS.get(name) for name in PRESETS}
        return name_or_path, by_hub_id.get(name_or_path)
    try:
        preset = PRESETS.get(name_or_path)
    except ValueError as exc:  # "unknown model preset 'x'; did you mean ..."
        msg = f"--model {name_or_path!r} is not a local folder, a hub id (org/name) or a preset: {exc}"
        raise ValueError(msg) from None
    return preset.hub_id, preset


def default_backend_name() -> str:
    """``vllm`` when the vllm package is installed (``.venv-vllm``, a GPU box), else ``transformers``."""
    return "vllm" if importlib.util.find_spec("vllm") is not None else "transformers"
