"""Test-tooling shim for .venv-vllm (never imported by the package).

PyPI's torchvision wheel is linked against CUDA, so on the CPU torch its compiled ops (``_C``) do
not load. ``import torchvision`` then dies in ``torchvision/_meta_registrations.py``, which
registers fake (meta) kernels with ``torch.library.register_fake`` for two ops whose schemas
only ``_C`` would have defined: ``torchvision::nms`` and ``torchvision::qnms``. vLLM's LLaVA code
imports transformers' Pixtral image processor, which imports torchvision unconditionally, so
without this shim ``vllm.LLM`` cannot load a LLaVA on CPU.

The shim defines just those two schemas, right before torchvision is first imported, with a
meta-path hook (no torch import at interpreter start-up). Calling the ops still fails ("no
kernel"), which is the truth: nothing on vLLM's text+image path calls them. It is installed by
``tools/vllm/setup_venv.sh`` as a ``.pth`` file in ``.venv-vllm`` so that every process of that
venv (pytest, vLLM's engine-core subprocess, ``vllm serve``) gets it.
"""

from __future__ import annotations

import importlib.abc
import sys

SCHEMAS = {
    "nms": "nms(Tensor dets, Tensor scores, float iou_threshold) -> Tensor",
    "qnms": "qnms(Tensor dets, Tensor scores, float iou_threshold) -> Tensor",
}
_LIBRARIES: list[object] = []  # keep the Library objects alive, or the schemas are dropped


def define_torchvision_schemas() -> None:
    """Define ``torchvision::nms`` / ``torchvision::qnms`` unless something already has."""
    import torch

    missing = [name for name in SCHEMAS if not _has_schema(torch, name)]
    if not missing:
        return
    lib = torch.library.Library("torchvision", "FRAGMENT")
    for name in missing:
        lib.define(SCHEMAS[name])
    _LIBRARIES.append(lib)


def _has_schema(torch: object, name: str) -> bool:
    try:
        torch._C._get_schema(f"torchvision::{name}", "")  # type: ignore[attr-defined]
    except RuntimeError:
        return False
    return True


class _BeforeTorchvision(importlib.abc.MetaPathFinder):
    """Runs ``define_torchvision_schemas`` once, when ``torchvision`` is about to be imported."""

    def find_spec(self, fullname: str, path: object, target: object = None) -> None:
        if fullname == "torchvision":
            sys.meta_path.remove(self)
            define_torchvision_schemas()
        return None  # let the normal finders import it


def install() -> None:
    if not any(isinstance(f, _BeforeTorchvision) for f in sys.meta_path):
        sys.meta_path.insert(0, _BeforeTorchvision())
