"""Validated rows of the community JSONL formats: predictions and ground truth.

Prediction row: ``qid``, optional ``query`` and ``vid``, ``pred_relevant_windows`` as
``[[start, end, score], ...]`` (best first), optional ``pred_saliency_scores`` (one per 2 s clip).
Ground-truth row (QVHighlights format): ``qid``, ``duration``, ``relevant_windows`` as
``[[start, end], ...]`` (at least one), optional ``relevant_clip_ids`` + ``saliency_scores``
(one list of annotator scores per clip id), optional ``split`` label.

Every error names the source (file and line, or list index), the qid when known, and the field.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator


def _check_windows(windows: Iterable[tuple[float, ...]], field: str) -> None:
    for i, w in enumerate(windows):
        if not all(math.isfinite(x) for x in w):
            msg = f"{field}[{i}] = {list(w)} holds a non-finite number"
            raise ValueError(msg)
        if w[0] > w[1]:
            msg = f"{field}[{i}] = {list(w)} has start > end"
            raise ValueError(msg)


class PredictionRecord(BaseModel):
    model_config = ConfigDict(extra="allow")

    qid: int | str
    query: str | None = None
    vid: str | None = None
    pred_relevant_windows: list[tuple[float, float, float]]
    pred_saliency_scores: list[float] | None = None

    @model_validator(mode="after")
    def _windows_ordered(self) -> PredictionRecord:
        _check_windows(self.pred_relevant_windows, "pred_relevant_windows")
        return self

    @property
    def is_sorted(self) -> bool:
        scores = [w[2] for w in self.pred_relevant_windows]
        return all(a >= b for a, b in zip(scores, scores[1:]))


class GroundTruthRecord(BaseModel):
    model_config = ConfigDict(extra="allow")

    qid: int | str
    query: str | None = None
    vid: str | None = None
    duration: float = Field(gt=0)
    relevant_windows: list[tuple[float, float]] = Field(min_length=1)
    relevant_clip_ids: list[int] | None = None
    saliency_scores: list[list[float]] | None = None
    split: str | None = None

    @model_validator(mode="after")
    def _consistent(self) -> GroundTruthRecord:
        _check_windows(self.relevant_windows, "relevant_windows")
        if (self.relevant_clip_ids is None) != (self.saliency_scores is None):
            msg = "relevant_clip_ids and saliency_scores must be given together"
            raise ValueError(msg)
        if self.saliency_scores is not None and len(self.saliency_scores) != len(self.relevant_clip_ids or []):
            msg = (
                f"saliency_scores has {len(self.saliency_scores)} rows for "
                f"{len(self.relevant_clip_ids or [])} relevant_clip_ids"
            )
            raise ValueError(msg)
        return self

    @property
    def has_saliency(self) -> bool:
        return self.saliency_scores is not None


R = TypeVar("R", PredictionRecord, GroundTruthRecord)


def _describe(err: ValidationError) -> str:
    parts = []
    for e in err.errors():
        loc = "".join(f"[{x}]" if isinstance(x, int) else f".{x}" for x in e["loc"]).lstrip(".")
        parts.append(f"field '{loc or '<row>'}': {e['msg']}")
    return "; ".join(parts)


def validate_rows(rows: Iterable[tuple[str, Any]], model: type[R]) -> list[R]:
    """Validate ``(where, row)`` pairs (``where`` is e.g. ``"preds.jsonl:12"``); reject
    duplicate qids. Raises ValueError naming the place, the qid and the field."""
    out: list[R] = []
    first_seen: dict[str, str] = {}
    for where, row in rows:
        if not isinstance(row, dict):
            msg = f"{where}: expected a JSON object, got {type(row).__name__}"
            raise ValueError(msg)
        qid = row.get("qid", "<missing>")
        try:
            record = model.model_validate(row)
        except ValidationError as err:
            msg = f"{where} (qid {qid!r}): {_describe(err)}"
            raise ValueError(msg) from None
        key = str(record.qid)
        if key in first_seen:
            msg = f"{where}: duplicate qid {record.qid!r} (first seen at {first_seen[key]})"
            raise ValueError(msg)
        first_seen[key] = where
        out.append(record)
    return out


def _jsonl_rows(path: Path) -> Iterator[tuple[str, Any]]:
    with path.open(encoding="utf-8") as f:
        for lineno, line in enumerate(f, start=1):
            if not line.strip():
                continue
            where = f"{path}:{lineno}"
            try:
                yield where, json.loads(line)
            except json.JSONDecodeError as err:
                msg = f"{where}: invalid JSON: {err}"
                raise ValueError(msg) from None


def read_jsonl(path: Path, model: type[R]) -> list[R]:
    """Read and validate a JSONL file; an absent or empty file is an error naming it."""
    path = Path(path)
    if not path.is_file():
        msg = f"{model.__name__} file not found: {path}"
        raise FileNotFoundError(msg)
    records = validate_rows(_jsonl_rows(path), model)
    if not records:
        msg = f"{path}: no records (empty file)"
        raise ValueError(msg)
    return records
