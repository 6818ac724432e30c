"""The format most grounding benchmarks share: one JSON object mapping video id to
``{"sentences": [...], "timestamps": [[s, e], ...], "duration": ..., ...}``, sentence i
annotated by timestamps[i] (Charades-CD/CG, ActivityNet Captions and -CD, TACoS)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from groundwork.errors import InputError
from pipeline.datasets.builder import AnnotationBuilder
from pipeline.datasets.files import as_float, list_field, load_json, shown
from pipeline.datasets.policies import parse_windows

Entry = dict[str, Any]


def read_video_json(
    builder: AnnotationBuilder,
    path: Path,
    split: str,
    *,
    duration_key: str = "duration",
    seconds_per_unit: Callable[[Entry, str], float] | None = None,
    extra_of: Callable[[Entry, int, str], dict[str, Any]] | None = None,
    video_id_of: Callable[[str], str] = str,
) -> None:
    """Add every (video, sentence) of ``path`` to ``builder`` as one query of ``split``.

    Query ids are ``<split>:<video id>:<sentence index>``. ``seconds_per_unit(entry, where)``
    converts timestamps and duration given in frames (TACoS) to seconds; ``extra_of(entry, i,
    where)`` returns the per-sentence extra fields (Charades-CG's novel words)."""
    data = load_json(path)
    if not isinstance(data, dict):
        msg = f"{path}: expected an object mapping video id to its annotations, got {type(data).__name__}"
        raise InputError(msg)
    for raw_id, entry in data.items():
        read_video_entry(
            builder,
            raw_id,
            entry,
            f"{path}:{raw_id}",
            split,
            duration_key=duration_key,
            seconds_per_unit=seconds_per_unit,
            extra_of=extra_of,
            video_id_of=video_id_of,
        )


def read_video_entry(
    builder: AnnotationBuilder,
    raw_id: str,
    entry: object,
    where: str,
    split: str,
    *,
    duration_key: str = "duration",
    seconds_per_unit: Callable[[Entry, str], float] | None = None,
    extra_of: Callable[[Entry, int, str], dict[str, Any]] | None = None,
    video_id_of: Callable[[str], str] = str,
) -> None:
    """One ``video id -> {sentences, timestamps, duration...}`` entry (``where`` names it in
    errors); the arguments are ``read_video_json``'s. A duration that is not a number is left to
    the builder's duration rule (``dropped_unknown_video``); a NaN or infinite one, or a frame
    rate that makes it so, is counted there as ``dropped_non_finite_duration``."""
    if not isinstance(entry, dict):
        msg = f"{where}: expected a JSON object, got {type(entry).__name__}"
        raise InputError(msg)
    sentences = list_field(entry, "sentences", where)
    timestamps = list_field(entry, "timestamps", where)
    if len(sentences) != len(timestamps):
        msg = f"{where}: field 'timestamps' has {len(timestamps)} items for {len(sentences)} sentences"
        raise InputError(msg)
    video_id = video_id_of(raw_id)
    if not video_id.strip():
        msg = f"{where}: field 'video id' must be a non-empty string (the entry's key), got {raw_id!r}"
        raise InputError(msg)
    scale = seconds_per_unit(entry, where) if seconds_per_unit else 1.0
    duration = entry.get(duration_key)
    if seconds_per_unit:
        duration = _scaled(duration, scale)
    for i, (text, stamp) in enumerate(zip(sentences, timestamps, strict=True)):
        at = f"{where}[{i}]"
        if not isinstance(text, str):
            msg = f"{at}: field 'sentences' must hold strings, got {shown(text)}"
            raise InputError(msg)
        windows = [(s * scale, e * scale) for s, e in parse_windows(stamp, f"{at} timestamps")]
        builder.add(
            split=split,
            query_id=f"{split}:{video_id}:{i}",
            video_id=video_id,
            text=text,
            windows=windows,
            duration=duration,
            source=at,
            extra=extra_of(entry, i, at) if extra_of else None,
        )


def _scaled(value: object, scale: float) -> float | None:
    """A duration in frames times seconds per frame; None (no usable duration, counted by the
    builder) when it is not a number or a numeric string."""
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        return None
    try:
        return as_float(value) * scale
    except ValueError:
        return None
