"""The QVHighlights JSONL format (one JSON object per line: qid, query, vid, duration,
relevant_windows, optional relevant_clip_ids / saliency_scores), read by the ``qvhighlights``
adapter for the official files and by ``folder`` for users' own data."""

from __future__ import annotations

from pathlib import Path

from groundwork.errors import InputError
from pipeline.datasets.base import DATASETS, Annotations
from pipeline.datasets.builder import AnnotationBuilder, read_split_files
from pipeline.datasets.files import (
    bad_field,
    id_field,
    is_number,
    list_field,
    parse_json,
    require,
    text_field,
    text_lines,
)
from pipeline.datasets.policies import SALIENCY_KEYS, parse_windows

FILES = {split: f"highlight_{split}_release.jsonl" for split in ("train", "val", "test")}
SALIENCY = SALIENCY_KEYS  # ("relevant_clip_ids", "saliency_scores")


def read_qvh_jsonl(builder: AnnotationBuilder, path: Path, split: str) -> None:
    """Add every line of ``path`` to ``builder`` (``read_qvh_line``)."""
    for line_no, line in text_lines(path):
        read_qvh_line(builder, line, f"{path}:{line_no}", split)


def read_qvh_line(builder: AnnotationBuilder, line: str, where: str, split: str) -> None:
    """One JSONL line (``where`` = "file:line" names it in errors); a blank line is skipped.
    The query id is the line's ``qid``. A line without ``relevant_windows`` (QVHighlights test)
    is kept with no windows and counted. ``qid`` and ``vid`` must be non-empty strings or
    integers and ``query`` a string; saliency labels, when given, are ``relevant_clip_ids``
    (integers) with one list of scores per clip id in ``saliency_scores``."""
    if not line.strip():
        return
    entry = parse_json(line, where)
    if not isinstance(entry, dict):
        msg = f"{where}: expected a JSON object, got {type(entry).__name__}"
        raise InputError(msg)
    qid, vid = id_field(entry, "qid", where), id_field(entry, "vid", where)
    text = text_field(entry, "query", where)
    duration = require(entry, "duration", where)
    labelled = "relevant_windows" in entry
    windows = parse_windows(entry["relevant_windows"], f"{where} relevant_windows") if labelled else []
    builder.add(
        split=split,
        query_id=qid,
        video_id=vid,
        text=text,
        windows=windows,
        duration=duration,
        source=where,
        extra=_saliency(entry, where),
        labelled=labelled,
    )


def _saliency(entry: dict, where: str) -> dict:
    """The saliency fields of a line, checked for shape (non-finite scores are the builder's
    ``removed_non_finite_saliency``); empty when the line has none."""
    given = [key for key in SALIENCY if key in entry]
    if not given:
        return {}
    if len(given) == 1:
        missing = next(key for key in SALIENCY if key not in given)
        msg = f"{where}: missing field '{missing}' ('{given[0]}' is given; the two go together)"
        raise InputError(msg)
    clip_ids, scores = list_field(entry, SALIENCY[0], where), list_field(entry, SALIENCY[1], where)
    if not all(isinstance(c, int) and not isinstance(c, bool) for c in clip_ids):
        raise bad_field(where, SALIENCY[0], "a list of integers", clip_ids)
    if len(scores) != len(clip_ids) or not all(
        isinstance(row, list) and all(is_number(x) for x in row) for row in scores
    ):
        expected = f"{len(clip_ids)} lists of numbers (one per clip id)"
        raise bad_field(where, SALIENCY[1], expected, scores)
    return {SALIENCY[0]: clip_ids, SALIENCY[1]: scores}


@DATASETS.register("qvhighlights")
def load_qvhighlights(annotations: Path, video_root: Path | None = None) -> Annotations:
    return read_split_files("qvhighlights", annotations, video_root, FILES, read_qvh_jsonl)
