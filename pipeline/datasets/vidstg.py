"""VidSTG, temporal part: ``{split}_annotations.json`` (a list of VidOR segments, each with a
temporal ground truth in frames, one declarative caption and zero or more interrogative
questions about a target object). Each sentence becomes a query; the boxes live in VidOR and are
not read. Durations are ``frame_count / fps`` of the whole VidOR video; windows are
``[begin_fid, end_fid] / fps`` on that video's time line."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from groundwork.errors import InputError
from pipeline.datasets.base import DATASETS, Annotations
from pipeline.datasets.builder import AnnotationBuilder, read_split_files
from pipeline.datasets.files import (
    bad_field,
    dict_field,
    id_field,
    list_field,
    load_json,
    number_field,
    require,
    text_field,
)

FILES = {split: f"{split}_annotations.json" for split in ("train", "val", "test")}
SENTENCES = (("captions", "declarative"), ("questions", "interrogative"))


def _read(builder: AnnotationBuilder, path: Path, split: str) -> None:
    data = load_json(path)
    if not isinstance(data, list):
        msg = f"{path}: expected a list of annotated segments, got {type(data).__name__}"
        raise InputError(msg)
    for i, entry in enumerate(data):
        read_vidstg_entry(builder, entry, i, f"{path}[{i}]", split)


def _object_id(entry: dict[str, Any], field: str, where: str) -> int | str:
    """A VidOR track id (``tid``, ``target_id``): an integer (or a string)."""
    value = require(entry, field, where)
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise bad_field(where, field, "an integer track id", value)
    return value


def read_vidstg_entry(builder: AnnotationBuilder, entry: object, i: int, where: str, split: str) -> None:
    """One annotated segment (entry ``i`` of the file; ``where`` names it in errors).

    A NaN or infinite ``fps`` or ``frame_count`` makes the duration non-finite, a non-finite
    ``temporal_gt`` frame the window: the builder drops and counts those queries
    (``dropped_non_finite_duration`` / ``_window``); a non-finite ``used_segment`` bound or
    ``used_relation`` value is removed from ``extra`` (``removed_non_finite_extra``). A zero or
    negative fps, a missing field or a value of the wrong type is an ``InputError``."""
    if not isinstance(entry, dict):
        msg = f"{where}: expected a JSON object, got {type(entry).__name__}"
        raise InputError(msg)
    vid = id_field(entry, "vid", where)
    fps = number_field(entry, "fps", where)
    if math.isfinite(fps) and fps <= 0:
        raise bad_field(where, "fps", "a positive number", fps)
    if not math.isfinite(fps):
        fps = math.nan  # frame_count / inf would be a zero duration, not a non-finite one
    frames = number_field(entry, "frame_count", where)
    gt = dict_field(entry, "temporal_gt", where)
    begin, end = (number_field(gt, key, f"{where}.temporal_gt") for key in ("begin_fid", "end_fid"))
    segment = dict_field(entry, "used_segment", where)
    seg_begin, seg_end = (number_field(segment, key, f"{where}.used_segment") for key in ("begin_fid", "end_fid"))
    objects: dict[int | str, Any] = {}
    for k, obj in enumerate(list_field(entry, "subject/objects", where)):
        at = f"{where}.subject/objects[{k}]"
        objects[_object_id(obj, "tid", at)] = require(obj, "category", at)
    common: dict[str, Any] = {
        "segment": [seg_begin / fps, seg_end / fps],
        "relation": require(entry, "used_relation", where),
        "objects": objects,
    }
    for key, kind in SENTENCES:
        for j, sentence in enumerate(list_field(entry, key, where)):
            at = f"{where}.{key}[{j}]"
            text = text_field(sentence, "description", at)
            target = _object_id(sentence, "target_id", at)
            builder.add(
                split=split,
                query_id=f"{split}:{i}:{kind}:{j}",
                video_id=vid,
                text=text,
                windows=[(begin / fps, end / fps)],
                duration=frames / fps,
                source=at,
                extra={
                    **common,
                    "sentence_type": kind,
                    "target_id": target,
                    "target_category": objects.get(target),
                    "target_type": sentence.get("type"),
                },
            )


@DATASETS.register("vidstg")
def load_vidstg(annotations: Path, video_root: Path | None = None) -> Annotations:
    return read_split_files("vidstg", annotations, video_root, FILES, _read, optional=("train",))
