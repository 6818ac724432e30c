"""``write_patches``: stores one video's per-frame patch grids (``pipeline.features.patches``) with
the raw frame ids they cover. Upstream, ``decode`` samples the frames at ``fid / fps`` (the
request's ``prompt_vars`` carry the frame ids) and ``visual`` runs the patch encoder."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from pipeline.stages.base import Batch, Resources, Stage

KEEP = ("video_id", "status", "error_type", "error", "n_decoded")


class WritePatchStage(Stage):
    name: ClassVar[str] = "write_patches"
    reads: ClassVar[tuple[str, ...]] = ("video_id", "features", "prompt_vars", "status")
    writes: ClassVar[tuple[str, ...]] = ("written",)

    def __init__(
        self,
        folder: Path,
        write: Callable[[Path, str, np.ndarray, np.ndarray], Any],
        resources: Resources = Resources(cpus=0.25, batch_size=4),
    ) -> None:
        """``write`` is ``pipeline.features.patches.write_patch_features`` (atomic npz)."""
        self.folder = Path(folder)
        self.write = write
        self.resources = resources

    def process_batch(self, batch: Batch) -> Batch:
        written = []
        for i, vid in enumerate(batch["video_id"]):
            ok = batch["status"][i] == "ok"
            if ok:
                frame_ids = json.loads(batch["prompt_vars"][i])["frame_ids"]
                self.write(self.folder, str(vid), np.asarray(batch["features"][i]), np.asarray(frame_ids, np.int64))
            written.append(ok)
        keep = [k for k in batch if k in KEEP or k.startswith("_s_")]
        return {**{k: batch[k] for k in keep}, "written": written}
