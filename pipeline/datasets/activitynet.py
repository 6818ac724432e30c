"""ActivityNet Captions (train / val_1 / val_2) and ActivityNet-CD (val / test_iid / test_ood;
its train file is not public, so it is read only when present)."""

from __future__ import annotations

from pathlib import Path

from pipeline.datasets.base import DATASETS, Annotations
from pipeline.datasets.builder import read_split_files
from pipeline.datasets.video_json import read_video_json

FILES = {split: f"{split}.json" for split in ("train", "val_1", "val_2")}
CD_FILES = {split: f"anet_{split}.json" for split in ("train", "val", "test_iid", "test_ood")}


@DATASETS.register("activitynet")
def load_activitynet(annotations: Path, video_root: Path | None = None) -> Annotations:
    return read_split_files("activitynet", annotations, video_root, FILES, read_video_json)


@DATASETS.register("activitynet_cd")
def load_activitynet_cd(annotations: Path, video_root: Path | None = None) -> Annotations:
    return read_split_files("activitynet_cd", annotations, video_root, CD_FILES, read_video_json, optional=("train",))
