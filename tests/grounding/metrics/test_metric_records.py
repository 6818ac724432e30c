"""Validation of community JSONL rows: errors name the file, line, qid and field."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from grounding.metrics.records import GroundTruthRecord, PredictionRecord, read_jsonl
from groundwork.errors import InputError, MissingInputError


def _write(path: Path, lines: list[str]) -> Path:
    path.write_text("\n".join(lines) + "\n")
    return path


GOOD_PRED = json.dumps({"qid": 1, "pred_relevant_windows": [[0, 5, 0.9]]})


@pytest.mark.parametrize(
    ("line", "pattern"),
    [
        ("{not json", r"preds.jsonl:2: invalid JSON"),
        ("[1, 2]", r"preds.jsonl:2: expected a JSON object, got list"),
        (json.dumps({"qid": 2}), r"preds.jsonl:2 \(qid 2\): field 'pred_relevant_windows': Field required"),
        (json.dumps({"qid": 2, "pred_relevant_windows": [[0, 5]]}), r"field 'pred_relevant_windows\[0\]\[2\]'"),
        (
            json.dumps({"qid": 2, "pred_relevant_windows": [[6, 5, 1]]}),
            r"pred_relevant_windows\[0\] = \[6.0, 5.0, 1.0\] has start > end",
        ),
        (json.dumps({"qid": 2, "pred_relevant_windows": [["a", 5, 1]]}), r"field 'pred_relevant_windows\[0\]\[0\]'"),
        (
            json.dumps({"qid": 1, "pred_relevant_windows": []}),
            r"preds.jsonl:2: duplicate qid 1 \(first seen at .*preds.jsonl:1\)",
        ),
    ],
)
def test_prediction_errors_name_file_line_and_field(tmp_path: Path, line: str, pattern: str) -> None:
    path = _write(tmp_path / "preds.jsonl", [GOOD_PRED, line])
    with pytest.raises(ValueError, match=pattern):
        read_jsonl(path, PredictionRecord)


@pytest.mark.parametrize(
    ("row", "pattern"),
    [
        ({"qid": 1, "relevant_windows": [[0, 5]]}, r"field 'duration': Field required"),
        ({"qid": 1, "duration": 0, "relevant_windows": [[0, 5]]}, r"field 'duration': Input should be greater than 0"),
        ({"qid": 1, "duration": 9, "relevant_windows": []}, r"field 'relevant_windows'"),
        ({"qid": 1, "duration": 9, "relevant_windows": [[0, 5]], "relevant_clip_ids": [0]}, r"given together"),
        (
            {"qid": 1, "duration": 9, "relevant_windows": [[0, 5]], "relevant_clip_ids": [0], "saliency_scores": []},
            r"saliency_scores has 0 rows for 1 relevant_clip_ids",
        ),
    ],
)
def test_ground_truth_errors(tmp_path: Path, row: dict, pattern: str) -> None:
    path = _write(tmp_path / "gt.jsonl", [json.dumps(row)])
    with pytest.raises(ValueError, match=r"gt.jsonl:1 \(qid 1\): .*" + pattern):
        read_jsonl(path, GroundTruthRecord)


def test_empty_and_absent_files(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="no records"):
        read_jsonl(_write(tmp_path / "empty.jsonl", [""]), PredictionRecord)
    with pytest.raises(FileNotFoundError, match="absent.jsonl"):
        read_jsonl(tmp_path / "absent.jsonl", GroundTruthRecord)


def test_valid_rows_keep_extra_fields_and_report_sorting(tmp_path: Path) -> None:
    row = {"qid": "a", "vid": "v", "pred_relevant_windows": [[0, 5, 0.1], [1, 2, 0.9]], "model": "x"}
    (rec,) = read_jsonl(_write(tmp_path / "p.jsonl", [json.dumps(row), ""]), PredictionRecord)
    assert rec.model_dump()["model"] == "x"
    assert rec.is_sorted is False


@pytest.mark.parametrize(
    ("line", "pattern"),
    [
        (
            '{"qid": 2, "pred_relevant_windows": [[0, 5, 1]], "pred_saliency_scores": [0.5, NaN]}',
            r"field 'pred_saliency_scores\[1\]': Input should be a finite number",
        ),
        ('{"qid": 2, "pred_relevant_windows": [[0, 5, NaN]]}', r"field 'pred_relevant_windows\[0\]\[2\]': .*finite"),
        ('{"qid": 2, "pred_relevant_windows": [[0, Infinity, 1]]}', r"field 'pred_relevant_windows\[0\]\[1\]'"),
        ('{"qid": 2, "pred_relevant_windows": [[0, "1e999", 1]]}', r"field 'pred_relevant_windows\[0\]\[1\]'"),
        (
            '{"qid": 2, "pred_relevant_windows": [[0, 5, 1]], "score": {"a": [1, -Infinity]}}',
            r"score.a\[1\] holds a non-finite number",
        ),
        ('{"qid": 2, "pred_relevant_windows": [[0, 5, 1]], "n": 1' + "0" * 400 + "}", r"n holds a non-finite number"),
    ],
)
def test_non_finite_numbers_are_refused(tmp_path: Path, line: str, pattern: str) -> None:
    """Regression: NaN saliency scores and NaN / Infinity in extra fields were accepted and
    passed on to the metrics (``json.loads`` reads NaN and Infinity)."""
    path = _write(tmp_path / "preds.jsonl", [GOOD_PRED, line])
    with pytest.raises(InputError, match=r"preds.jsonl:2 \(qid 2\): .*" + pattern):
        read_jsonl(path, PredictionRecord)


def test_infinite_ground_truth_duration_is_refused(tmp_path: Path) -> None:
    """Regression: ``duration: Infinity`` passed ``gt=0``."""
    path = _write(tmp_path / "gt.jsonl", ['{"qid": 1, "duration": Infinity, "relevant_windows": [[0, 5]]}'])
    with pytest.raises(InputError, match=r"gt.jsonl:1 \(qid 1\): field 'duration': Input should be a finite number"):
        read_jsonl(path, GroundTruthRecord)


def test_undecodable_and_deeply_nested_lines_name_the_line(tmp_path: Path) -> None:
    """Regression: a line that is not UTF-8 raised UnicodeDecodeError naming no line; a line
    nested 100,000 deep raised RecursionError."""
    path = tmp_path / "preds.jsonl"
    path.write_bytes(GOOD_PRED.encode() + b'\n{"qid": "\xff"}\n')
    with pytest.raises(InputError, match=r"preds.jsonl:2: invalid JSON"):
        read_jsonl(path, PredictionRecord)
    path.write_text(GOOD_PRED + "\n" + "[" * 100_000 + "]" * 100_000 + "\n")
    with pytest.raises(InputError, match=r"preds.jsonl:2: invalid JSON"):
        read_jsonl(path, PredictionRecord)


def test_errors_are_user_errors(tmp_path: Path) -> None:
    """Regression: read errors were plain ValueError / FileNotFoundError, which the CLI prints
    with a traceback instead of as a user error."""
    with pytest.raises(MissingInputError):
        read_jsonl(tmp_path / "absent.jsonl", PredictionRecord)
    with pytest.raises(InputError, match="no records"):
        read_jsonl(_write(tmp_path / "empty.jsonl", [""]), PredictionRecord)
    with pytest.raises(InputError, match="duplicate qid"):
        read_jsonl(_write(tmp_path / "dup.jsonl", [GOOD_PRED, GOOD_PRED]), PredictionRecord)
