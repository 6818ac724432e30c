"""Visual features for users without their own: ``visual`` encodes each video's per-second
frames with a CLIP-style vision tower (an actor pool), ``write_visual`` stores ``{vid}.npz``
(key ``features``, shape (L, D)) under ``<cache>/visual/<extractor>/``."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, ClassVar, Protocol

import numpy as np

from groundwork.cache.fs import cache_location
from pipeline.stages.base import Batch, ModelStage, Resources, Stage

EMPTY = np.zeros((0, 0), np.float32)


class ImageEncoder(Protocol):  # pipeline.features.visual.VisualEncoder
    name: str
    dim: int

    def setup(self) -> None: ...
    def encode(self, frames: np.ndarray) -> np.ndarray: ...


class VisualFeatureStage(ModelStage):
    name: ClassVar[str] = "visual"
    reads: ClassVar[tuple[str, ...]] = ("video_id", "images", "status")
    writes: ClassVar[tuple[str, ...]] = ("features",)

    def __init__(
        self, make_encoder: Callable[[], ImageEncoder], resources: Resources = Resources(cpus=1.0, batch_size=1)
    ) -> None:
        super().__init__(make_encoder, resources)

    def process_batch(self, batch: Batch) -> Batch:
        encoder: ImageEncoder = self.ready()
        n = len(batch["video_id"])
        features: list[np.ndarray] = [EMPTY] * n
        for i in range(n):
            if batch["status"][i] == "ok":
                features[i] = np.asarray(encoder.encode(np.asarray(batch["images"][i])), np.float32)
        return {**batch, "features": features}


class WriteVisualStage(Stage):
    name: ClassVar[str] = "write_visual"
    reads: ClassVar[tuple[str, ...]] = ("video_id", "features", "status")
    writes: ClassVar[tuple[str, ...]] = ("written",)

    def __init__(
        self,
        folder: Path,
        write: Callable[[Path, str, np.ndarray], Any],
        resources: Resources = Resources(cpus=0.25, batch_size=8),
    ) -> None:
        """``write`` is ``pipeline.features.visual.write_video_features`` (atomic npz)."""
        self.folder = cache_location(folder)
        self.write = write
        self.resources = resources

    def process_batch(self, batch: Batch) -> Batch:
        written = []
        for i, vid in enumerate(batch["video_id"]):
            ok = batch["status"][i] == "ok"
            if ok:
                self.write(self.folder, str(vid), np.asarray(batch["features"][i], np.float32))
            written.append(ok)
        keep = [
            k for k in batch if k in ("video_id", "status", "error_type", "error", "n_decoded") or k.startswith("_s_")
        ]
        return {**{k: batch[k] for k in keep}, "written": written}
