"""Model presets and ``--model`` resolution (no model is loaded: presets are data)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

from pipeline.backends.adapters import ADAPTERS
from pipeline.presets import PRESETS, QWEN_PATCH_PIXELS, default_backend_name, resolve_model

NAMES = [
    "llava-1.5-7b",
    "llava-1.5-13b",
    "llava-next-7b",
    "qwen2-vl-2b",
    "qwen2-vl-7b",
    "qwen2.5-vl-3b",
    "qwen2.5-vl-7b",
]


def test_every_issue_preset_is_registered_with_a_known_adapter() -> None:
    assert sorted(NAMES) == PRESETS.names()
    for name in NAMES:
        preset = PRESETS.get(name)
        assert preset.name == name and "/" in preset.hub_id
        assert preset.adapter in ADAPTERS
        assert preset.sampling.temperature == 0.0 and preset.sampling.max_new_tokens > 0
        assert preset.image_tokens < preset.max_model_len


@pytest.mark.parametrize("name", [n for n in NAMES if n.startswith("qwen")])
def test_qwen_budget_caps_pixels_and_tokens(name: str) -> None:
    preset = PRESETS.get(name)
    kwargs = preset.mm_processor_kwargs()
    assert kwargs["max_pixels"] == preset.max_image_pixels == 448 * 448
    assert kwargs["min_pixels"] < kwargs["max_pixels"]
    assert preset.image_tokens == preset.max_image_pixels // QWEN_PATCH_PIXELS == 256


def test_llava_is_fixed_size() -> None:
    preset = PRESETS.get("llava-1.5-7b")
    assert preset.mm_processor_kwargs() == {}
    assert preset.image_tokens == (336 // 14) ** 2


def test_resolve_preset_hub_id_and_folder(tmp_path: Path) -> None:
    hub_id, preset = resolve_model("qwen2-vl-2b")
    assert hub_id == "Qwen/Qwen2-VL-2B-Instruct" and preset is not None and preset.name == "qwen2-vl-2b"
    assert resolve_model("Qwen/Qwen2-VL-2B-Instruct")[1] == preset  # a preset's hub id gets its preset
    assert resolve_model("someone/other-vlm") == ("someone/other-vlm", None)
    folder = tmp_path / "qwen2-vl-2b"  # a local folder wins, even named like a preset
    folder.mkdir()
    assert resolve_model(str(folder)) == (str(folder), None)


def test_unknown_name_gets_did_you_mean() -> None:
    with pytest.raises(ValueError, match=r"did you mean 'qwen2-vl-7b'"):
        resolve_model("qwen2-vl-7")
    with pytest.raises(ValueError, match="not a local folder, a hub id"):
        resolve_model("./missing-folder")


def test_default_backend_follows_vllm_install() -> None:
    expected = "vllm" if importlib.util.find_spec("vllm") is not None else "transformers"
    assert default_backend_name() == expected
