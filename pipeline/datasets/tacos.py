"""TACoS: the MESM / 2D-TAN JSON, whose timestamps and length are in frames (``fps``,
``num_frames``); they are converted to seconds. Video ids drop the ``.avi`` of the keys."""

from __future__ import annotations

import math
from functools import partial
from pathlib import Path
from typing import Any

from pipeline.datasets.base import DATASETS, Annotations
from pipeline.datasets.builder import read_split_files
from pipeline.datasets.files import bad_field, number_field
from pipeline.datasets.video_json import read_video_json

FILES = {split: f"{split}.json" for split in ("train", "val", "test")}


def _seconds_per_frame(entry: dict[str, Any], where: str) -> float:
    """``1 / fps``; NaN when the fps is NaN or infinite, so that the duration and every window
    of the video are counted as non-finite by the builder (an infinite fps would otherwise give
    a zero duration). A zero or negative fps is malformed: an ``InputError``."""
    fps = number_field(entry, "fps", where)
    if not math.isfinite(fps):
        return math.nan
    if fps <= 0:
        raise bad_field(where, "fps", "a positive number", fps)
    return 1.0 / fps


def _video_id(key: str) -> str:
    return key.removesuffix(".avi")


ENTRY: dict[str, Any] = {"duration_key": "num_frames", "seconds_per_unit": _seconds_per_frame, "video_id_of": _video_id}


@DATASETS.register("tacos")
def load_tacos(annotations: Path, video_root: Path | None = None) -> Annotations:
    return read_split_files("tacos", annotations, video_root, FILES, partial(read_video_json, **ENTRY))
