"""The QVHighlights JSONL format (one JSON object per line: qid, query, vid, duration,
relevant_windows, optional relevant_clip_ids / saliency_scores), read by the ``qvhighlights``
adapter for the official files and by ``folder`` for users' own data."""

from __future__ import annotations

import json
from pathlib import Path

from pipeline.datasets.base import DATASETS, Annotations
from pipeline.datasets.builder import AnnotationBuilder, read_split_files
from pipeline.datasets.files import require
from pipeline.datasets.policies import parse_windows

FILES = {split: f"highlight_{split}_release.jsonl" for split in ("train", "val", "test")}
REQUIRED = ("qid", "query", "vid", "duration")
SALIENCY = ("relevant_clip_ids", "saliency_scores")


def read_qvh_jsonl(builder: AnnotationBuilder, path: Path, split: str) -> None:
    """Add every line of ``path`` to ``builder``. The query id is the line's ``qid``. A line
    without ``relevant_windows`` (QVHighlights test) is kept with no windows and counted."""
    with Path(path).open(encoding="utf-8") as f:
        for line_no, line in enumerate(f, start=1):
            if not line.strip():
                continue
            where = f"{path}:{line_no}"
            try:
                entry = json.loads(line)
            except json.JSONDecodeError as e:
                msg = f"{where}: not valid JSON ({e})"
                raise ValueError(msg) from e
            qid, text, vid, duration = (require(entry, field, where) for field in REQUIRED)
            if not isinstance(text, str):
                msg = f"{where}: field 'query' must be a string, got {text!r}"
                raise ValueError(msg)
            labelled = "relevant_windows" in entry
            windows = []
            if labelled:
                windows = parse_windows(entry["relevant_windows"], f"{where} relevant_windows")
            builder.add(
                split=split,
                query_id=str(qid),
                video_id=str(vid),
                text=text,
                windows=windows,
                duration=duration,
                source=where,
                extra={key: entry[key] for key in SALIENCY if key in entry},
                labelled=labelled,
            )


@DATASETS.register("qvhighlights")
def load_qvhighlights(annotations: Path, video_root: Path | None = None) -> Annotations:
    return read_split_files("qvhighlights", annotations, video_root, FILES, read_qvh_jsonl)
