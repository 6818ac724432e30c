"""One small registry class, used for every kind of pluggable thing (datasets, backends,
encoders, feature stores, prior kinds, models, batch fields). Unknown names get a "did you mean"
error (an ``InputError``: the commands report it as a user error, exit 2)."""

from __future__ import annotations

import difflib
from collections.abc import Callable, Iterator
from typing import Generic, TypeVar

from groundwork.errors import InputError

T = TypeVar("T")


class Registry(Generic[T]):
    """A name -> object map filled with a decorator.

    >>> DATASETS = Registry("dataset")
    >>> @DATASETS.register("charades_sta")
    ... def load(...): ...
    >>> DATASETS.get("charades-sta")   # ValueError: unknown dataset 'charades-sta'; did you mean ...
    """

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self._items: dict[str, T] = {}

    def register(self, name: str) -> Callable[[T], T]:
        def deco(obj: T) -> T:
            if name in self._items:
                msg = f"{self.kind} '{name}' is registered twice"
                raise ValueError(msg)
            self._items[name] = obj
            return obj

        return deco

    def get(self, name: str) -> T:
        try:
            return self._items[name]
        except KeyError:
            close = difflib.get_close_matches(name, list(self._items), n=1)
            hint = f"; did you mean '{close[0]}'?" if close else ""
            msg = f"unknown {self.kind} '{name}'{hint} available: {', '.join(sorted(self._items))}"
            raise InputError(msg) from None

    def names(self) -> list[str]:
        return sorted(self._items)

    def values(self) -> list[T]:
        """Every registered object, in registration order."""
        return list(self._items.values())

    def __contains__(self, name: object) -> bool:
        return name in self._items

    def __iter__(self) -> Iterator[str]:
        return iter(sorted(self._items))
