"""AnnotationBuilder: the one place where an adapter's raw entries become Videos and Queries.

Adapters only parse their file format; every entry goes through ``add``, which applies the
shared policies (pipeline/datasets/policies.py), counts them per split, checks that query ids
are unique and that ids and text are strings, registers the video (with its file when a video
root was given) and counts the entries read per split. Whatever an adapter passes, no NaN or
infinite number reaches the built Annotations: windows, durations and extra fields holding one
are dropped or removed under a counted rule."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

from groundwork.errors import InputError
from pipeline.datasets import policies as P
from pipeline.datasets.base import Annotations, PolicyReport, Query, Video
from pipeline.datasets.files import shown, split_files
from pipeline.datasets.videos import index_videos


class AnnotationBuilder:
    def __init__(self, name: str, video_root: Path | None = None) -> None:
        self.name = name
        self.video_files: dict[str, Path] = index_videos(video_root) if video_root else {}
        self.videos: dict[str, Video] = {}
        self.queries: list[Query] = []
        self.policies = PolicyReport()
        self.read: Counter[str] = Counter()
        self._sources: dict[str, str] = {}

    def add(
        self,
        *,
        split: str,
        query_id: str,
        video_id: str,
        text: str,
        windows: list[P.Window],
        duration: object,
        source: str,
        extra: dict[str, Any] | None = None,
        labelled: bool = True,
    ) -> Query | None:
        """Add one raw entry; returns the kept Query, or None when a policy dropped it.

        ``source`` ("file:line" or "file:video[i]") names the entry in errors. ``labelled=False``
        marks a split whose queries have no windows by design (a hidden test set): such a query is
        kept with no windows and counted as ``kept_without_windows``. A query dropped for its
        video or its text is not also run through the window rules, nor a dropped query through
        the extra-field rules. Ids and text that are not strings raise ``InputError``."""
        for field, value in (("query id", query_id), ("video id", video_id), ("text", text)):
            if not isinstance(value, str) or (field != "text" and not value.strip()):
                expected = "a string" if field == "text" else "a non-empty string"
                msg = f"{source}: field '{field}' must be {expected}, got {shown(value)}"
                raise InputError(msg)
        self.read[split] += 1
        if query_id in self._sources:
            msg = f"{source}: duplicate query id {query_id!r} (first seen at {self._sources[query_id]})"
            raise InputError(msg)
        self._sources[query_id] = source

        seconds, rule = P.duration_rule(duration)
        if seconds is None:
            self.policies.count(split, rule or P.DROPPED_UNKNOWN_VIDEO)
            return None
        known = self.videos.get(video_id)
        if known is not None and abs(known.duration - seconds) > 1e-3:
            self.policies.count(split, P.CONFLICTING_VIDEO_DURATION)
            seconds = known.duration  # windows are checked against the duration the video keeps
        clean, fired = P.clean_text(text)
        kept: list[P.Window] = []
        if clean is not None:
            kept, window_rules = P.clean_windows(windows, seconds)
            fired |= window_rules
        for rule in sorted(fired):
            self.policies.count(split, rule)
        if clean is None:
            return None
        if not kept:
            if windows:
                return None  # every window was dropped by a counted rule above
            if labelled:
                self.policies.count(split, P.DROPPED_WITHOUT_WINDOWS)
                return None
            self.policies.count(split, P.KEPT_WITHOUT_WINDOWS)
        extra, extra_rules = P.finite_extra(extra or {})
        for rule in sorted(extra_rules):
            self.policies.count(split, rule)

        video = self.videos.get(video_id)
        if video is None:
            video = Video(video_id=video_id, duration=seconds, path=self.video_files.get(video_id))
            self.videos[video_id] = video
        query = Query(
            query_id=query_id,
            video_id=video_id,
            split=split,
            text=clean,
            windows=tuple(kept),
            duration=video.duration,
            extra=extra,
        )
        self.queries.append(query)
        return query

    def drop_unknown_video(self, split: str) -> None:
        """An entry whose video is not known at all (e.g. absent from the duration table)."""
        self.read[split] += 1
        self.policies.count(split, P.DROPPED_UNKNOWN_VIDEO)

    def drop(self, split: str, rule: str) -> None:
        """An entry an adapter drops under its own counted ``rule`` (e.g. an STVG query without
        GT boxes, ``pipeline.datasets.tubes``): read, counted, not added."""
        self.read[split] += 1
        self.policies.count(split, rule)

    def build(self) -> Annotations:
        return Annotations(
            name=self.name,
            videos=self.videos,
            queries=self.queries,
            policies=self.policies,
            queries_read=dict(sorted(self.read.items())),
        )


def read_split_files(
    name: str,
    annotations: Path,
    video_root: Path | None,
    files: dict[str, str],
    read: Callable[[AnnotationBuilder, Path, str], None],
    optional: tuple[str, ...] = (),
) -> Annotations:
    """An adapter whose splits are one file each: ``read(builder, path, split)`` for every file
    of ``files`` found in ``annotations`` (see ``split_files``), then the built annotations."""
    builder = AnnotationBuilder(name, video_root)
    for split, path in split_files(annotations, files, optional).items():
        read(builder, path, split)
    return builder.build()
