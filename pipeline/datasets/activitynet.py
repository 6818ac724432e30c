"""ActivityNet Captions (train / val_1 / val_2) and ActivityNet-CD (val / test_iid / test_ood;
its train file is not public, so it is read only when present)."""

from __future__ import annotations

from pathlib import Path

from pipeline.datasets.base import DATASETS, Annotations
from pipeline.datasets.builder import AnnotationBuilder
from pipeline.datasets.files import split_files
from pipeline.datasets.video_json import read_video_json

FILES = {split: f"{split}.json" for split in ("train", "val_1", "val_2")}
CD_FILES = {split: f"anet_{split}.json" for split in ("train", "val", "test_iid", "test_ood")}


@DATASETS.register("activitynet")
def load_activitynet(annotations: Path, video_root: Path | None = None) -> Annotations:
    builder = AnnotationBuilder("activitynet", video_root)
    for split, path in split_files(annotations, FILES).items():
        read_video_json(builder, path, split)
    return builder.build()


@DATASETS.register("activitynet_cd")
def load_activitynet_cd(annotations: Path, video_root: Path | None = None) -> Annotations:
    builder = AnnotationBuilder("activitynet_cd", video_root)
    for split, path in split_files(annotations, CD_FILES, optional=("train",)).items():
        read_video_json(builder, path, split)
    return builder.build()
