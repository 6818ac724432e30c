"""Charades-STA (txt + Charades_v1 CSV durations), Charades-CD and Charades-CG (JSON)."""

from __future__ import annotations

import csv
from functools import partial
from pathlib import Path
from typing import Any

from pipeline.datasets.base import DATASETS, Annotations
from pipeline.datasets.builder import AnnotationBuilder, read_split_files
from pipeline.datasets.files import split_files
from pipeline.datasets.video_json import read_video_json

STA_FILES = {"train": "charades_sta_train.txt", "test": "charades_sta_test.txt"}
CSV_FILES = {"train": "Charades_v1_train.csv", "test": "Charades_v1_test.csv"}
CD_FILES = {split: f"charades_{split}.json" for split in ("train", "val", "test_iid", "test_ood")}
CG_FILES = {split: f"{split}.json" for split in ("train", "test_trivial", "novel_composition", "novel_word")}


def read_charades_durations(paths: list[Path]) -> dict[str, str]:
    """Video id -> the ``length`` column (seconds, as written) of the Charades_v1 CSV files."""
    durations: dict[str, str] = {}
    for path in paths:
        with path.open(newline="", encoding="utf-8") as f:
            reader = csv.DictReader(f)
            for field in ("id", "length"):
                if field not in (reader.fieldnames or []):
                    msg = f"{path}: missing column '{field}' (has: {reader.fieldnames})"
                    raise ValueError(msg)
            for row in reader:
                durations[row["id"]] = row["length"]
    return durations


@DATASETS.register("charades_sta")
def load_charades_sta(annotations: Path, video_root: Path | None = None) -> Annotations:
    """``VID start end##query`` lines; query ids are ``<split>:<line number>``."""
    files = split_files(annotations, STA_FILES)
    durations = read_charades_durations(list(split_files(annotations, CSV_FILES).values()))
    builder = AnnotationBuilder("charades_sta", video_root)
    for split, path in files.items():
        for line_no, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
            if not line.strip():
                continue
            where = f"{path}:{line_no}"
            head, sep, text = line.partition("##")
            parts = head.split()
            if not sep or len(parts) != 3:
                msg = f"{where}: expected 'VID start end##query', got {line!r}"
                raise ValueError(msg)
            video_id, start, end = parts
            try:
                window = (float(start), float(end))
            except ValueError:
                msg = f"{where}: start/end are not numbers in {line!r}"
                raise ValueError(msg) from None
            builder.add(
                split=split,
                query_id=f"{split}:{line_no}",
                video_id=video_id,
                text=text,
                windows=[window],
                duration=durations.get(video_id),  # None -> dropped_unknown_video
                source=where,
            )
    return builder.build()


@DATASETS.register("charades_cd")
def load_charades_cd(annotations: Path, video_root: Path | None = None) -> Annotations:
    read = partial(read_video_json, duration_key="video_duration")
    return read_split_files("charades_cd", annotations, video_root, CD_FILES, read)


def _cg_novelties(entry: dict[str, Any], i: int, where: str) -> dict[str, Any]:
    """Charades-CG's per-sentence ``novels`` (novel compositions) and ``news`` (novel words)."""
    extra: dict[str, Any] = {}
    for key, name in (("novels", "novel_compositions"), ("news", "novel_words")):
        if key in entry:
            values = entry[key]
            if len(values) != len(entry["sentences"]):
                msg = f"{where}: '{key}' has {len(values)} items for {len(entry['sentences'])} sentences"
                raise ValueError(msg)
            extra[name] = values[i]
    return extra


@DATASETS.register("charades_cg")
def load_charades_cg(annotations: Path, video_root: Path | None = None) -> Annotations:
    read = partial(read_video_json, extra_of=_cg_novelties)
    return read_split_files("charades_cg", annotations, video_root, CG_FILES, read)
