"""``demo_stvg``: the generated spatio-temporal demo (``pipeline.demo.stvg``: VidSTG entries with
VidOR trajectory files and videos), read with the ``vidstg`` adapter's code and its boxes from
``<annotations>/annotation``. Generated into the annotation folder the first time it is asked
for; the videos default to ``<annotations>/video``."""

from __future__ import annotations

from pathlib import Path

from pipeline.datasets.base import DATASETS, Annotations
from pipeline.datasets.vidstg import VIDOR_FOLDER, read_vidstg
from pipeline.demo.stvg import generate_stvg_demo

MARKER = "train_annotations.json"  # written last by the generator


@DATASETS.register("demo_stvg")
def load_demo_stvg(annotations: Path, video_root: Path | None = None) -> Annotations:
    """Generate the demo into ``annotations`` when ``train_annotations.json`` is missing, then read
    it as VidSTG with its VidOR boxes."""
    annotations = Path(annotations)
    if not (annotations / MARKER).exists():
        generate_stvg_demo(annotations)
    return read_vidstg("demo_stvg", annotations, video_root or annotations / "video", annotations / VIDOR_FOLDER)
