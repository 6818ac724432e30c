"""VidSTG: ``{split}_annotations.json`` (a list of VidOR segments, each with a temporal ground
truth in frames, one declarative caption and zero or more interrogative questions about a target
object). Each sentence becomes a query. Durations are ``frame_count / fps`` of the whole VidOR
video; windows are ``[begin_fid, end_fid] / fps`` on that video's time line.

Every query's ``extra`` carries the STVG block (``groundwork.stvg.StvgQuery``: fps, frame count,
size, ``used_segment``, ``temporal_gt`` as ``gt_sted`` with its exclusive end, target id) and its
``sentence_type``. The boxes live in VidOR: with ``boxes`` (a VidOR annotation folder, or, when
not given, ``<annotations>/annotation`` if that folder exists: VidOR's layout beside the VidSTG
files, as the demo writes it) the target's track is read from the video's VidOR file and its boxes
on the evaluation grid inside the GT tube go to ``Annotations.tubes`` (policies in
``pipeline.datasets.tubes``). Without boxes (the real val / test files here) only the temporal
part is read."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from groundwork.errors import InputError
from groundwork.stvg import STVG_KEY, StvgQuery
from pipeline.datasets.base import DATASETS, Annotations
from pipeline.datasets.builder import AnnotationBuilder
from pipeline.datasets.files import (
    bad_field,
    dict_field,
    id_field,
    is_number,
    list_field,
    load_json,
    number_field,
    require,
    split_files,
    text_field,
)
from pipeline.datasets.tubes import (
    DROPPED_WITHOUT_GT_BOXES,
    FILLED_GT_BOX,
    TubeBook,
    tube_boxes,
)
from pipeline.datasets.vidor import VidorBoxes

FILES = {split: f"{split}_annotations.json" for split in ("train", "val", "test")}
SENTENCES = (("captions", "declarative"), ("questions", "interrogative"))


def _read(
    builder: AnnotationBuilder, path: Path, split: str, boxes: VidorBoxes | None = None, book: TubeBook | None = None
) -> None:
    data = load_json(path)
    if not isinstance(data, list):
        msg = f"{path}: expected a list of annotated segments, got {type(data).__name__}"
        raise InputError(msg)
    for i, entry in enumerate(data):
        read_vidstg_entry(builder, entry, i, f"{path}[{i}]", split, boxes, book)


def _frame(x: float) -> int | float:
    """A frame id as an int; a non-finite one stays as it is (the builder's policies remove it)."""
    return round(x) if math.isfinite(x) else x


def _stvg_block(
    entry: dict[str, Any],
    fps: float,
    frames: float,
    segment: tuple[float, float],
    gt: tuple[float, float],
    target: int | str,
) -> tuple[dict[str, Any], StvgQuery | None]:
    """The STVG block of ``extra`` and, when every number in it is finite, its ``StvgQuery``. A
    ``width`` / ``height`` that is missing or not a finite number is 0 (unknown size)."""
    size = [entry.get(k) for k in ("width", "height")]
    size = [round(v) if is_number(v) and math.isfinite(v) else 0 for v in size]
    values = [fps, frames, *segment, *gt]
    block = {
        "fps": fps,
        "frame_count": _frame(frames),
        "width": size[0],
        "height": size[1],
        "segment": [_frame(x) for x in segment],
        "gt_sted": [_frame(x) for x in gt],
        "target_id": str(target),
        "dataset": "vidstg",
    }
    if not all(math.isfinite(v) for v in values):
        return block, None
    return block, StvgQuery.from_extra({STVG_KEY: block})


def _object_id(entry: dict[str, Any], field: str, where: str) -> int | str:
    """A VidOR track id (``tid``, ``target_id``): an integer (or a string)."""
    value = require(entry, field, where)
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise bad_field(where, field, "an integer track id", value)
    return value


def read_vidstg_entry(
    builder: AnnotationBuilder,
    entry: object,
    i: int,
    where: str,
    split: str,
    boxes: VidorBoxes | None = None,
    book: TubeBook | None = None,
) -> None:
    """One annotated segment (entry ``i`` of the file; ``where`` names it in errors). With
    ``boxes``, the target's GT boxes of each kept sentence go to ``book``.

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
            block, stvg = _stvg_block(entry, fps, frames, (seg_begin, seg_end), (begin, end), target)
            tube, filled = ({}, 0) if boxes is None or stvg is None else tube_boxes(stvg, boxes.track(vid, target))
            if boxes is not None and stvg is not None and not tube:
                builder.drop(split, DROPPED_WITHOUT_GT_BOXES)
                continue
            query = builder.add(
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
                    STVG_KEY: block,
                },
            )
            if query is not None and tube and book is not None and STVG_KEY in query.extra:
                book.add(vid, str(target), tube)
                if filled:
                    builder.policies.count(split, FILLED_GT_BOX)


VIDOR_FOLDER = "annotation"  # VidOR's annotation folder beside the VidSTG files (the default box source)


def read_vidstg(
    name: str, annotations: Path, video_root: Path | None = None, boxes: Path | str | None = None
) -> Annotations:
    """The VidSTG files of ``annotations`` (see the module doc), under the dataset name ``name``."""
    annotations = Path(annotations)
    if boxes is None and (annotations / VIDOR_FOLDER).is_dir():
        boxes = annotations / VIDOR_FOLDER
    source = VidorBoxes(Path(boxes)) if boxes is not None else None
    builder, book = AnnotationBuilder(name, video_root), TubeBook()
    for split, path in split_files(annotations, FILES, optional=("train",)).items():
        _read(builder, path, split, source, book)
    ann = builder.build()
    ann.tubes = book.boxes
    return ann


@DATASETS.register("vidstg")
def load_vidstg(annotations: Path, video_root: Path | None = None, boxes: Path | str | None = None) -> Annotations:
    """``boxes``: a VidOR annotation folder (default: ``<annotations>/annotation`` when it exists)."""
    return read_vidstg("vidstg", annotations, video_root, boxes)
