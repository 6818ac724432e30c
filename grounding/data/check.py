"""Check every video a run will read before its first step, and report every bad one at once.

A store loads features lazily, so without this a missing, NaN or wrong-width file of a video
that appears only in the validation split would be found after a whole training epoch, and then
only the first such video. ``check_videos`` loads each video once (``store.load`` checks
existence, rank, dtype, width and finite values; see ``grounding.data.features``) with a
progress bar, and raises one ``FeatureError`` listing the bad videos (up to ``show`` of them,
with the total count) and the splits they belong to.

Cache: a JSON file (``FEATURE_CHECK``, in the run folder) remembers the videos that passed, keyed
by the store's ``name`` and expected width, and for each video the path, size and mtime (ns) of
every file that holds it (``store.files(video_id)``). A resumed run, or a second run in the same
folder, loads only the videos whose files changed or that failed before. An HDF5 store has one
file for every video, so any write to it rechecks them all. A store without ``files`` is checked
in full every time. Bad videos are never cached, so a fixed file is picked up on the next run.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from grounding.data.features import FeatureError, FeatureStore
from groundwork.atomic import atomic_write_text
from groundwork.progress import progress as progress_bar

FEATURE_CHECK = "feature_check.json"  # the cache's name inside a run folder
CACHE_VERSION = 1
SHOW = 20  # bad videos listed in the error; the rest are counted

Stamp = list[list[Any]]  # [[path, size, mtime_ns], ...] of the files holding one video


@dataclass(frozen=True)
class CheckResult:
    videos: int  # videos the run uses
    loaded: int  # loaded and checked this time (the rest passed before and did not change)


def videos_by_split(rows: Iterable[Mapping[str, Any]], splits: Iterable[str | None]) -> dict[str, list[str]]:
    """``{video_id: [splits it appears in]}`` for the manifest rows of ``splits`` (None = all)."""
    wanted = set(splits)
    out: dict[str, list[str]] = {}
    for row in rows:
        if None in wanted or row["split"] in wanted:
            seen = out.setdefault(row["video_id"], [])
            if row["split"] not in seen:
                seen.append(row["split"])
    return out


def _stamp(store: FeatureStore, video_id: str) -> Stamp | None:
    """Path, size and mtime of each file holding ``video_id``; None when one is missing or the
    store cannot name its files (then the video is always loaded)."""
    files = getattr(store, "files", None)
    if files is None:
        return None
    out: Stamp = []
    for path in files(video_id):
        try:
            stat = Path(path).stat()
        except OSError:
            return None
        out.append([str(path), stat.st_size, stat.st_mtime_ns])
    return out


def _read_cache(path: Path | None, key: dict[str, Any]) -> dict[str, Stamp]:
    if path is None or not path.is_file():
        return {}
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}  # a damaged cache only costs a full check
    if not isinstance(data, dict) or {k: data.get(k) for k in key} != key or not isinstance(data.get("videos"), dict):
        return {}
    return data["videos"]


def check_videos(store: FeatureStore, videos: Mapping[str, Iterable[str]] | Iterable[str], cache: Path | None = None,
                 progress: bool = True, show: int = SHOW) -> CheckResult:
    """Load every video of ``videos`` (ids, or ``{id: splits}`` as ``videos_by_split`` gives)
    once; raise one ``FeatureError`` naming every bad video (``show`` listed, all counted).
    ``cache`` (a JSON path, usually ``<run>/FEATURE_CHECK``) skips videos that passed before
    and whose files did not change. Call it after the store's width is known (``probe_dims``),
    so every video is held to that width."""
    splits = {v: list(s) for v, s in videos.items()} if isinstance(videos, Mapping) else {v: [] for v in videos}
    key = {"version": CACHE_VERSION, "store": store.name, "dim": store.dim}
    passed = _read_cache(cache, key)
    ok: dict[str, Stamp] = {}
    bad: list[tuple[str, str]] = []
    loaded = 0
    for video_id in progress_bar(sorted(splits), desc="checking video features", enabled=progress, unit="video"):
        stamp = _stamp(store, video_id)
        if stamp is not None and passed.get(video_id) == stamp:
            ok[video_id] = stamp
            continue
        loaded += 1
        try:
            store.load(video_id)
        except FeatureError as err:
            bad.append((video_id, str(err)))
            continue
        if stamp is not None:
            ok[video_id] = stamp
    if cache is not None and getattr(store, "files", None) is not None:
        key["dim"] = store.dim  # pinned by the first load when the store was opened without a width
        atomic_write_text(cache, json.dumps({**key, "videos": ok}, sort_keys=True))
    if bad:
        lines = [f"  {message}" + (f" [{', '.join(splits[vid])}]" if splits[vid] else "")
                 for vid, message in bad[:show]]
        more = [f"  ... and {len(bad) - show} more"] if len(bad) > show else []
        msg = (f"features of {len(bad)} of {len(splits)} videos this run uses cannot be used "
               f"(store {store.name}); fix or remove them, or leave their queries out of the manifest:\n"
               + "\n".join(lines + more))
        raise FeatureError(msg)
    return CheckResult(videos=len(splits), loaded=loaded)
