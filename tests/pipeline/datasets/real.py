"""Each real dataset loaded once per test session (several test files check the same one)."""

from __future__ import annotations

from functools import cache

from pipeline.datasets import DATASETS
from pipeline.datasets.base import Annotations
from tests.conftest import shared_path


@cache
def load_real(name: str) -> Annotations:
    """``DATASETS[name]`` on ../shared/data/<name>; skips the test when that folder is absent.
    Callers must not modify the result."""
    return DATASETS.get(name)(shared_path(name))
