"""TACoS: the MESM / 2D-TAN JSON, whose timestamps and length are in frames (``fps``,
``num_frames``); they are converted to seconds. Video ids drop the ``.avi`` of the keys."""

from __future__ import annotations

from functools import partial
from pathlib import Path
from typing import Any

from pipeline.datasets.base import DATASETS, Annotations
from pipeline.datasets.builder import read_split_files
from pipeline.datasets.files import require
from pipeline.datasets.video_json import read_video_json

FILES = {split: f"{split}.json" for split in ("train", "val", "test")}


def _seconds_per_frame(entry: dict[str, Any], where: str) -> float:
    fps = require(entry, "fps", where)
    if not isinstance(fps, int | float) or fps <= 0:
        msg = f"{where}: 'fps' must be a positive number, got {fps!r}"
        raise ValueError(msg)
    return 1.0 / float(fps)


@DATASETS.register("tacos")
def load_tacos(annotations: Path, video_root: Path | None = None) -> Annotations:
    read = partial(read_video_json, duration_key="num_frames", seconds_per_unit=_seconds_per_frame,
                   video_id_of=lambda key: key.removesuffix(".avi"))
    return read_split_files("tacos", annotations, video_root, FILES, read)
