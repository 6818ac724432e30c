"""The format most grounding benchmarks share: one JSON object mapping video id to
``{"sentences": [...], "timestamps": [[s, e], ...], "duration": ..., ...}``, sentence i
annotated by timestamps[i] (Charades-CD/CG, ActivityNet Captions and -CD, TACoS)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from pipeline.datasets.builder import AnnotationBuilder
from pipeline.datasets.files import load_json, require
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
        raise ValueError(msg)
    for raw_id, entry in data.items():
        where = f"{path}:{raw_id}"
        sentences = require(entry, "sentences", where)
        timestamps = require(entry, "timestamps", where)
        if len(sentences) != len(timestamps):
            msg = f"{where}: {len(sentences)} sentences but {len(timestamps)} timestamps"
            raise ValueError(msg)
        scale = seconds_per_unit(entry, where) if seconds_per_unit else 1.0
        duration = entry.get(duration_key)
        if duration is not None and seconds_per_unit:
            duration = float(duration) * scale
        video_id = video_id_of(raw_id)
        for i, (text, stamp) in enumerate(zip(sentences, timestamps, strict=True)):
            at = f"{where}[{i}]"
            if not isinstance(text, str):
                msg = f"{at}: sentence must be a string, got {text!r}"
                raise ValueError(msg)
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
