"""VidSTG, temporal part: ``{split}_annotations.json`` (a list of VidOR segments, each with a
temporal ground truth in frames, one declarative caption and zero or more interrogative
questions about a target object). Each sentence becomes a query; the boxes live in VidOR and are
not read. Durations are ``frame_count / fps`` of the whole VidOR video; windows are
``[begin_fid, end_fid] / fps`` on that video's time line."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pipeline.datasets.base import DATASETS, Annotations
from pipeline.datasets.builder import AnnotationBuilder, read_split_files
from pipeline.datasets.files import load_json, require

FILES = {split: f"{split}_annotations.json" for split in ("train", "val", "test")}
SENTENCES = (("captions", "declarative"), ("questions", "interrogative"))


def _read(builder: AnnotationBuilder, path: Path, split: str) -> None:
    data = load_json(path)
    if not isinstance(data, list):
        msg = f"{path}: expected a list of annotated segments, got {type(data).__name__}"
        raise ValueError(msg)
    for i, entry in enumerate(data):
        where = f"{path}[{i}]"
        vid = str(require(entry, "vid", where))
        fps = float(require(entry, "fps", where))
        if fps <= 0:
            msg = f"{where}: 'fps' must be positive, got {fps}"
            raise ValueError(msg)
        frames = require(entry, "frame_count", where)
        gt = require(entry, "temporal_gt", where)
        begin, end = (require(gt, key, f"{where}.temporal_gt") for key in ("begin_fid", "end_fid"))
        window = (begin / fps, end / fps)
        segment = require(entry, "used_segment", where)
        objects = {o["tid"]: o["category"] for o in require(entry, "subject/objects", where)}
        common: dict[str, Any] = {
            "segment": [segment["begin_fid"] / fps, segment["end_fid"] / fps],
            "relation": require(entry, "used_relation", where),
            "objects": objects,
        }
        for key, kind in SENTENCES:
            for j, sentence in enumerate(require(entry, key, where)):
                at = f"{where}.{key}[{j}]"
                target = require(sentence, "target_id", at)
                builder.add(
                    split=split,
                    query_id=f"{split}:{i}:{kind}:{j}",
                    video_id=vid,
                    text=require(sentence, "description", at),
                    windows=[window],
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
