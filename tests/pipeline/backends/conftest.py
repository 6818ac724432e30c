"""Tiny random LLaVA and Qwen2-VL folders, built once per test session."""

from __future__ import annotations

from pathlib import Path

import pytest

from pipeline.demo.tiny_models import build_tiny_llava, build_tiny_qwen2_vl

BUILDERS = {"llava": build_tiny_llava, "qwen2_vl": build_tiny_qwen2_vl}


@pytest.fixture(scope="session", params=sorted(BUILDERS))
def tiny_model(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Each tiny model family in turn (the test runs once per family)."""
    return BUILDERS[request.param](tmp_path_factory.mktemp(request.param))
