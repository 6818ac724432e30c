"""``folder``: users' own data. A directory of ``<split>.jsonl`` files in the QVHighlights
format, and the videos as ``<vid>.<ext>`` under ``video_root`` (default ``<dir>/videos``).
The split is the file's stem; the Annotations are named after the directory."""

from __future__ import annotations

from pathlib import Path

from groundwork.errors import InputError
from pipeline.datasets.base import DATASETS, Annotations
from pipeline.datasets.builder import AnnotationBuilder
from pipeline.datasets.qvhighlights import read_qvh_jsonl


@DATASETS.register("folder")
def load_folder(annotations: Path, video_root: Path | None = None) -> Annotations:
    root = Path(annotations)
    files = sorted(root.glob("*.jsonl")) if root.is_dir() else []
    if not files:
        msg = f"folder dataset {root}: no <split>.jsonl files found (QVHighlights format, one query per line)"
        raise InputError(msg)
    if video_root is None and (root / "videos").is_dir():
        video_root = root / "videos"
    builder = AnnotationBuilder(root.name or "folder", video_root)
    for path in files:
        read_qvh_jsonl(builder, path, path.stem)
    return builder.build()
