"""Validated rows of the community JSONL formats: predictions and ground truth.

Prediction row: ``qid``, optional ``query`` and ``vid``, ``pred_relevant_windows`` as
``[[start, end, score], ...]`` (best first), optional ``pred_saliency_scores`` (one per 2 s clip).
Ground-truth row (QVHighlights format): ``qid``, ``duration``, ``relevant_windows`` as
``[[start, end], ...]`` (at least one), optional ``relevant_clip_ids`` + ``saliency_scores``
(one list of annotator scores per clip id), optional ``split`` label.

Every error is an ``InputError`` (a missing file a ``MissingInputError``) naming the source
(file and line, or list index), the qid when known, and the field. No row holds a non-finite
number: NaN, ``Infinity`` (which ``json.loads`` accepts) and numbers too large for a float are
refused in every float field and in any extra field, never passed on to the metrics.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from groundwork.errors import InputError, MissingInputError

SHOWN = 80  # characters of a bad value quoted in an error message


def _shown(value: object) -> str:
    text = repr(value)
    return text if len(text) <= SHOWN else f"{text[:SHOWN]}... ({len(text)} characters)"


def _non_finite_path(value: Any, path: str = "") -> str | None:
    """The location (``.a[2]``) of the first NaN / infinite float or too-large integer inside
    ``value``, or None."""
    if isinstance(value, float):
        return None if math.isfinite(value) else path
    if isinstance(value, int) and not isinstance(value, bool):
        try:
            float(value)
        except OverflowError:
            return path
        return None
    items = value.items() if isinstance(value, dict) else enumerate(value) if isinstance(value, list | tuple) else ()
    for key, item in items:
        found = _non_finite_path(item, f"{path}[{key}]" if isinstance(key, int) else f"{path}.{key}")
        if found is not None:
            return found
    return None


class _Row(BaseModel):
    """Common rules of a JSONL row: unknown fields are kept, float fields refuse NaN and
    infinities, and an extra field may not hold a non-finite number either."""

    model_config = ConfigDict(extra="allow", allow_inf_nan=False)

    @model_validator(mode="after")
    def _finite_extras(self) -> _Row:
        for key, value in (self.model_extra or {}).items():
            where = _non_finite_path(value, key)
            if where is not None:
                msg = f"{where} holds a non-finite number (NaN, Infinity or an integer too large for a float)"
                raise ValueError(msg)
        return self


def _check_windows(windows: Iterable[tuple[float, ...]], field: str) -> None:
    for i, w in enumerate(windows):
        if not all(math.isfinite(x) for x in w):
            msg = f"{field}[{i}] = {list(w)} holds a non-finite number"
            raise ValueError(msg)
        if w[0] > w[1]:
            msg = f"{field}[{i}] = {list(w)} has start > end"
            raise ValueError(msg)


class PredictionRecord(_Row):
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


class GroundTruthRecord(_Row):
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


R = TypeVar("R", bound=BaseModel)  # any row model (the STVG records reuse these readers)


def _describe(err: ValidationError) -> str:
    parts = []
    for e in err.errors():
        loc = "".join(f"[{x}]" if isinstance(x, int) else f".{x}" for x in e["loc"]).lstrip(".")
        parts.append(f"field '{loc or '<row>'}': {e['msg']}")
    return "; ".join(parts)


def validate_rows(rows: Iterable[tuple[str, Any]], model: type[R]) -> list[R]:
    """Validate ``(where, row)`` pairs (``where`` is e.g. ``"preds.jsonl:12"``); reject
    duplicate qids. Raises InputError naming the place, the qid and the field."""
    out: list[R] = []
    first_seen: dict[str, str] = {}
    for where, row in rows:
        if not isinstance(row, dict):
            msg = f"{where}: expected a JSON object, got {type(row).__name__}"
            raise InputError(msg)
        qid = row.get("qid", "<missing>")
        try:
            record = model.model_validate(row)
        except ValidationError as err:
            msg = f"{where} (qid {_shown(qid)}): {_describe(err)}"
            raise InputError(msg) from None
        key = str(record.qid)
        if key in first_seen:
            msg = f"{where}: duplicate qid {_shown(record.qid)} (first seen at {first_seen[key]})"
            raise InputError(msg)
        first_seen[key] = where
        out.append(record)
    return out


def parse_line(line: str | bytes, where: str) -> Any:
    """One JSONL line's value; any failure (bad syntax or UTF-8, an integer of more than 4,300
    digits, nesting too deep for the parser) is an InputError naming ``where``."""
    try:
        return json.loads(line)
    except (ValueError, RecursionError) as err:  # JSONDecodeError and UnicodeDecodeError are ValueErrors
        msg = f"{where}: invalid JSON: {err}"
        raise InputError(msg) from None


def _jsonl_rows(path: Path) -> Iterator[tuple[str, Any]]:
    with path.open("rb") as f:  # lines end at b"\n" only; each line is decoded on its own
        for lineno, line in enumerate(f, start=1):
            if not line.strip():
                continue
            where = f"{path}:{lineno}"
            yield where, parse_line(line, where)


def read_jsonl(path: Path, model: type[R]) -> list[R]:
    """Read and validate a JSONL file; an absent or empty file is an error naming it."""
    path = Path(path)
    if not path.is_file():
        msg = f"{model.__name__} file not found: {path}"
        raise MissingInputError(msg)
    records = validate_rows(_jsonl_rows(path), model)
    if not records:
        msg = f"{path}: no records (empty file)"
        raise InputError(msg)
    return records
