"""``demo``: the generated demo dataset (``pipeline.demo.videos``), read with the ``folder``
adapter. Generated into the annotation folder the first time it is asked for."""

from __future__ import annotations

from pathlib import Path

from pipeline.datasets.base import DATASETS, Annotations
from pipeline.demo.videos import generate_demo


@DATASETS.register("demo")
def load_demo(annotations: Path, video_root: Path | None = None, train_videos: int | None = None) -> Annotations:
    """Generate the demo into ``annotations`` when ``train.jsonl`` is missing (``train_videos``:
    that many training videos, ``--dataset-options train_videos=320``), then read it with the
    ``folder`` adapter."""
    annotations = Path(annotations)
    if not (annotations / "train.jsonl").exists():
        generate_demo(annotations, train_videos=train_videos)
    ann = DATASETS.get("folder")(annotations, video_root)
    ann.name = "demo"
    return ann
