"""HC-STVG (v1 and v2): one JSON object per split, keyed by video file name; each 20 s video has
one sentence about one person and that person's tube.

Files (``annotations`` folder): ``{split}.json`` (v1 ships ``train.json`` / ``test.json``) or
``{split}_v2.json`` (v2: ``train_v2.json`` / ``val_v2.json``; its test boxes are hidden, so papers
report v2 on val), for splits train / val / test, at least one of them. Entry fields:

- ``bbox``: ``[[x, y, w, h], ...]``, one box per frame from ``st_frame`` on (pixels);
- ``st_frame``: the tube's first frame id, as the file gives it (the notes: 1-based against the
  0-based grid; TubeDETR keeps it, and so does this reader: no frame id is shifted);
- ``img_num``: the video's frame count (= fps x 20);
- ``st_time`` / ``ed_time`` (seconds; kept in ``extra``);
- v1: ``caption``, ``width``, ``height``; v2: ``English`` and ``img_size`` ``[height, width]``.

The video id is the key without its extension; the query id ``<split>:<video id>``. The GT tube is
``[st_frame, st_frame + len(bbox))`` (``gt_sted``, end exclusive); the window is that tube in
seconds at fps ``img_num / 20``, on a 20 s video (``groundwork.stvg.hcstvg_segment``: segment
``[0, img_num - 1]``, TubeDETR's reading). The boxes of the grid frames inside the tube go to
``Annotations.tubes`` (target ``"0"``). Errors name the file, the video and the field.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from groundwork.errors import InputError
from groundwork.stvg import HCSTVG_SECONDS, STVG_KEY, StvgQuery, hcstvg_segment
from pipeline.datasets.base import DATASETS, Annotations
from pipeline.datasets.builder import AnnotationBuilder
from pipeline.datasets.files import (
    bad_field,
    is_number,
    list_field,
    load_json,
    number_field,
    shown,
    text_field,
)
from pipeline.datasets.tubes import Box, TubeBook, check_box

SPLITS = ("train", "val", "test")
TARGET = "0"  # HC-STVG has one target per video


def split_paths(annotations: Path) -> dict[str, Path]:
    """``{split: file}``: ``{split}.json`` or ``{split}_v2.json`` for each split found."""
    root = Path(annotations)
    if not root.is_dir():
        msg = f"annotations folder {root} does not exist (expected HC-STVG files such as train.json or val_v2.json)"
        raise InputError(msg)
    found = {}
    for split in SPLITS:
        for name in (f"{split}.json", f"{split}_v2.json"):
            if (root / name).is_file():
                found[split] = root / name
                break
    if not found:
        names = ", ".join(f"{s}.json / {s}_v2.json" for s in SPLITS)
        msg = f"annotations folder {root} holds no HC-STVG file (expected at least one of {names})"
        raise InputError(msg)
    return found


def _size(entry: dict[str, Any], where: str) -> tuple[int, int]:
    """(width, height): v1's ``width`` / ``height`` or v2's ``img_size`` [height, width]."""
    if "img_size" in entry:
        size = list_field(entry, "img_size", where)
        if len(size) != 2 or not all(isinstance(x, int | float) and not isinstance(x, bool) for x in size):
            raise bad_field(where, "img_size", "[height, width]", size)
        return int(size[1]), int(size[0])
    return int(number_field(entry, "width", where)), int(number_field(entry, "height", where))


def read_hcstvg_entry(
    builder: AnnotationBuilder, book: TubeBook, key: object, entry: object, where: str, split: str
) -> None:
    """One video's entry (``key``: its file name)."""
    if not isinstance(key, str) or not key.strip():
        msg = f"{where}: a video key must be a non-empty file name, got {key!r}"
        raise InputError(msg)
    if not isinstance(entry, dict):
        msg = f"{where}: expected a JSON object, got {type(entry).__name__}"
        raise InputError(msg)
    video_id = Path(key).stem
    text = text_field(entry, "English" if "English" in entry else "caption", where)
    frames = number_field(entry, "img_num", where)
    first = number_field(entry, "st_frame", where)
    raw = list_field(entry, "bbox", where)
    if not math.isfinite(frames) or frames <= 1:
        raise bad_field(where, "img_num", "a frame count above 1", frames)
    if not math.isfinite(first) or first < 0 or not raw:
        raise bad_field(where, "st_frame / bbox", "a finite first frame >= 0 and at least one box", [first, len(raw)])
    boxes: dict[int, Box] = {}
    for k, xywh in enumerate(raw):
        at = f"{where}.bbox[{k}]"
        if not isinstance(xywh, list) or len(xywh) != 4 or not all(is_number(v) for v in xywh):
            msg = f"{at}: a box must be four numbers [x, y, w, h], got {shown(xywh)}"
            raise InputError(msg)
        x, y, w, h = (float(v) for v in xywh)
        boxes[round(first) + k] = check_box([x, y, x + w, y + h], f"{at} = [x, y, w, h] {xywh} as [x1, y1, x2, y2]")
    width, height = _size(entry, where)
    segment, fps = hcstvg_segment(round(frames))
    stvg = StvgQuery(
        fps, round(frames), width, height, segment, (round(first), round(first) + len(raw)), TARGET, "hcstvg"
    )
    extra = {
        STVG_KEY: stvg.as_extra(),
        "target_id": TARGET,
        **{k: entry[k] for k in ("st_time", "ed_time") if isinstance(entry.get(k), int | float)},
    }
    query = builder.add(
        split=split,
        query_id=f"{split}:{video_id}",
        video_id=video_id,
        text=text,
        windows=[(stvg.seconds(stvg.gt_sted[0]), stvg.seconds(stvg.gt_sted[1]))],
        duration=float(HCSTVG_SECONDS),
        source=where,
        extra=extra,
    )
    if query is not None:
        book.add(video_id, TARGET, {f: boxes[f] for f in stvg.gt_frames()})


@DATASETS.register("hcstvg")
def load_hcstvg(annotations: Path, video_root: Path | None = None) -> Annotations:
    builder, book = AnnotationBuilder("hcstvg", video_root), TubeBook()
    for split, path in split_paths(annotations).items():
        data = load_json(path)
        if not isinstance(data, dict):
            msg = f"{path}: expected a JSON object keyed by video file name, got {type(data).__name__}"
            raise InputError(msg)
        for key, entry in data.items():
            read_hcstvg_entry(builder, book, key, entry, f"{path}[{key!r}]", split)
    ann = builder.build()
    ann.tubes = book.boxes
    return ann
