"""The progress-bar helper every long loop uses: a tqdm bar that switches itself off when the
output is not a terminal (CI logs, pipes), and that a caller can switch off entirely."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, TypeVar

from tqdm.auto import tqdm

T = TypeVar("T")


def progress(iterable: Iterable[T] | None = None, *, desc: str, enabled: bool = True, **kwargs: Any) -> Any:
    """``tqdm(iterable, desc=desc, ...)``; ``enabled=False`` hides it, and it hides itself when
    stderr is not a terminal (``disable=None``)."""
    return tqdm(iterable, desc=desc, disable=None if enabled else True, **kwargs)
