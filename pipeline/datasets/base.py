"""The data model every dataset adapter yields, and the policy counter that reports how
defects in real annotation files were handled."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from groundwork.registry import Registry


@dataclass(frozen=True)
class Video:
    video_id: str
    duration: float  # seconds
    path: Path | None = None  # None when the adapter was given no video root


@dataclass(frozen=True)
class Query:
    query_id: str  # unique within the dataset (across splits)
    video_id: str
    split: str  # e.g. train / val / test / test_ood / novel_word
    text: str
    windows: tuple[tuple[float, float], ...]  # ground-truth [start, end] in seconds, after policies
    duration: float
    extra: dict[str, Any] = field(default_factory=dict)  # saliency, object ids, novel words, ...


@dataclass
class PolicyReport:
    """Counts, per split and rule, how many queries each data-changing policy touched."""

    counts: dict[str, Counter] = field(default_factory=dict)

    def count(self, split: str, rule: str, n: int = 1) -> None:
        self.counts.setdefault(split, Counter())[rule] += n

    def as_dict(self) -> dict[str, dict[str, int]]:
        return {s: dict(sorted(c.items())) for s, c in sorted(self.counts.items())}


@dataclass
class Annotations:
    """What an adapter returns: videos by id, queries in file order, and the policy report."""

    name: str
    videos: dict[str, Video]
    queries: list[Query]
    policies: PolicyReport
    queries_read: dict[str, int] = field(default_factory=dict)  # entries read per split, before policies
    # STVG datasets with boxes: (video_id, target_id) -> raw frame id -> GT box (x1, y1, x2, y2) in
    # pixels, on the evaluation-grid frames inside the queries' GT tubes (pipeline.datasets.tubes)
    tubes: dict[tuple[str, str], dict[int, tuple[float, float, float, float]]] = field(default_factory=dict)

    def splits(self) -> list[str]:
        return sorted({q.split for q in self.queries})


class Adapter(Protocol):
    def __call__(self, annotations: Path, video_root: Path | None = None) -> Annotations: ...


DATASETS: Registry[Adapter] = Registry("dataset")
