"""Charades-STA (txt + Charades_v1 CSV durations), Charades-CD and Charades-CG (JSON)."""

from __future__ import annotations

import csv
from functools import partial
from pathlib import Path
from typing import Any

from groundwork.errors import InputError
from pipeline.datasets.base import DATASETS, Annotations
from pipeline.datasets.builder import AnnotationBuilder, read_split_files
from pipeline.datasets.files import as_float, list_field, shown, split_files, text_lines
from pipeline.datasets.policies import Window
from pipeline.datasets.video_json import read_video_json

STA_FILES = {"train": "charades_sta_train.txt", "test": "charades_sta_test.txt"}
CSV_FILES = {"train": "Charades_v1_train.csv", "test": "Charades_v1_test.csv"}
CD_FILES = {split: f"charades_{split}.json" for split in ("train", "val", "test_iid", "test_ood")}
CG_FILES = {split: f"{split}.json" for split in ("train", "test_trivial", "novel_composition", "novel_word")}


def read_charades_durations(paths: list[Path]) -> dict[str, str]:
    """Video id -> the ``length`` column (seconds, as written) of the Charades_v1 CSV files."""
    durations: dict[str, str] = {}
    for path in paths:
        try:
            with path.open(newline="", encoding="utf-8") as f:
                reader = csv.DictReader(f)
                for field in ("id", "length"):
                    if field not in (reader.fieldnames or []):
                        msg = f"{path}: missing column '{field}' (has: {reader.fieldnames})"
                        raise InputError(msg)
                for row in reader:
                    durations[row["id"]] = row["length"]
        except (UnicodeDecodeError, csv.Error) as e:
            msg = f"{path}: not a readable UTF-8 CSV file ({e})"
            raise InputError(msg) from None
    return durations


def parse_sta_line(line: str, where: str) -> tuple[str, Window, str] | None:
    """``VID start end##query`` -> (video id, (start, end), query text); None for a blank line.
    The numbers go through ``float()``, which also reads "nan", "inf" and "1e999": the window
    rules count those (``dropped_non_finite_window``)."""
    if not line.strip():
        return None
    head, sep, text = line.partition("##")
    parts = head.split()
    if not sep or len(parts) != 3:
        msg = f"{where}: expected 'VID start end##query', got {shown(line)}"
        raise InputError(msg)
    video_id, *bounds = parts
    numbers: list[float] = []
    for field, value in zip(("start", "end"), bounds, strict=True):
        try:
            numbers.append(as_float(value))
        except ValueError:
            msg = f"{where}: field '{field}' must be a number, got {shown(value)} in {shown(line)}"
            raise InputError(msg) from None
    return video_id, (numbers[0], numbers[1]), text


@DATASETS.register("charades_sta")
def load_charades_sta(annotations: Path, video_root: Path | None = None) -> Annotations:
    """``VID start end##query`` lines; query ids are ``<split>:<line number>``."""
    files = split_files(annotations, STA_FILES)
    durations = read_charades_durations(list(split_files(annotations, CSV_FILES).values()))
    builder = AnnotationBuilder("charades_sta", video_root)
    for split, path in files.items():
        for line_no, line in text_lines(path):
            read_sta_line(builder, line, f"{path}:{line_no}", split, f"{split}:{line_no}", durations)
    return builder.build()


def read_sta_line(
    builder: AnnotationBuilder, line: str, where: str, split: str, query_id: str, durations: dict[str, str]
) -> None:
    """One Charades-STA line into ``builder`` (nothing for a blank line); the duration is the
    video's CSV ``length`` (absent -> ``dropped_unknown_video``; "nan" -> ``dropped_non_finite_duration``)."""
    parsed = parse_sta_line(line, where)
    if parsed is None:
        return
    video_id, window, text = parsed
    builder.add(
        split=split,
        query_id=query_id,
        video_id=video_id,
        text=text,
        windows=[window],
        duration=durations.get(video_id),
        source=where,
    )


CD_ENTRY: dict[str, Any] = {"duration_key": "video_duration"}  # read_video_json options of Charades-CD


@DATASETS.register("charades_cd")
def load_charades_cd(annotations: Path, video_root: Path | None = None) -> Annotations:
    return read_split_files("charades_cd", annotations, video_root, CD_FILES, partial(read_video_json, **CD_ENTRY))


def _cg_novelties(entry: dict[str, Any], i: int, where: str) -> dict[str, Any]:
    """Charades-CG's per-sentence ``novels`` (novel compositions) and ``news`` (novel words)."""
    extra: dict[str, Any] = {}
    n_sentences = len(entry["sentences"])
    for key, name in (("novels", "novel_compositions"), ("news", "novel_words")):
        if key in entry:
            values = list_field(entry, key, where)
            if len(values) != n_sentences:
                msg = f"{where}: field '{key}' has {len(values)} items for {n_sentences} sentences"
                raise InputError(msg)
            extra[name] = values[i]
    return extra


CG_ENTRY: dict[str, Any] = {"extra_of": _cg_novelties}  # read_video_json options of Charades-CG


@DATASETS.register("charades_cg")
def load_charades_cg(annotations: Path, video_root: Path | None = None) -> Annotations:
    return read_split_files("charades_cg", annotations, video_root, CG_FILES, partial(read_video_json, **CG_ENTRY))
