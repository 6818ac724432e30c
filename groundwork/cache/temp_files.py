"""The ``.tmp-*`` files a killed writer leaves in the cache, and their removal (``priors gc``).

Every file of the cache is written under a ``.tmp-<uuid>-<name>`` name and renamed into place
(``groundwork.atomic``); readers ignore names that start with a dot, so a killed run leaves
nothing half-read, only these files. A writer's temp file is being written to, so its
modification time is recent; one that nobody touched for ``older_than_s`` (default an hour, and
never under a minute) belongs to no running writer, and is removed. A shard, a feature file or a
manifest takes seconds to write, far below that threshold. A cache on an object store
(``groundwork.cache.fs``) has none: each file is uploaded whole from a local temporary file.
"""

from __future__ import annotations

import os
import shutil
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

from groundwork.atomic import TMP_PREFIX
from groundwork.cache.fs import CachePath, StorePath, cache_location
from groundwork.errors import InputError

DEFAULT_OLDER_THAN_S = 3600.0
MIN_OLDER_THAN_S = 60.0


@dataclass(frozen=True)
class TempFile:
    path: CachePath
    bytes: int
    age_s: float  # seconds since it (or, for a folder, anything in it) was last modified
    folder: bool = False  # a temporary folder (``groundwork.atomic.atomic_replace_dir``)


@dataclass
class TempReport:
    """What ``collect_garbage`` found: the temp files removed (or, in a dry run, to remove) and
    those left because they are younger than the threshold."""

    older_than_s: float
    removed: list[TempFile] = field(default_factory=list)
    kept: list[TempFile] = field(default_factory=list)
    dry_run: bool = False

    def as_dict(self) -> dict:
        def rows(files: list[TempFile]) -> list[dict]:
            return [{**asdict(f), "path": str(f.path), "age_s": round(f.age_s, 1)} for f in files]

        return {
            "older_than_s": self.older_than_s,
            "dry_run": self.dry_run,
            "removed": rows(self.removed),
            "removed_bytes": sum(f.bytes for f in self.removed),
            "kept_young": rows(self.kept),
        }


def temp_files(root: str | os.PathLike | CachePath, now: float | None = None) -> list[TempFile]:
    """Every ``.tmp-*`` file and folder under ``root`` (the contents of a temp folder count as one)."""
    root = cache_location(root)
    now = time.time() if now is None else now
    if isinstance(root, StorePath):
        return _store_temp_files(root, now)
    found = []
    for folder, dirs, files in os.walk(root):
        base = Path(folder)
        for name in [d for d in dirs if d.startswith(TMP_PREFIX)]:
            dirs.remove(name)  # one entry for the whole folder
            size, mtime = _tree(base / name)
            if mtime is not None:
                found.append(TempFile(base / name, size, max(0.0, now - mtime), folder=True))
        for name in files:
            if name.startswith(TMP_PREFIX):
                try:
                    st = (base / name).stat()
                except FileNotFoundError:  # renamed into place since the listing
                    continue
                found.append(TempFile(base / name, st.st_size, max(0.0, now - st.st_mtime)))
    return sorted(found, key=lambda f: str(f.path))


def _store_temp_files(root: StorePath, now: float) -> list[TempFile]:
    """The ``.tmp-*`` files on a pyarrow file system. An object store never has any (a write is one
    PUT of a finished file); an HDFS-like one has them while an upload is renamed into place."""
    found = []
    for path in root.rglob(f"{TMP_PREFIX}*"):
        try:
            st = path.stat()
        except FileNotFoundError:
            continue
        found.append(TempFile(path, st.st_size, max(0.0, now - st.st_mtime)))
    return sorted(found, key=lambda f: str(f.path))


def _tree(folder: Path) -> tuple[int, float | None]:
    """(bytes, newest modification time) of a folder and everything in it."""
    try:
        newest, size = folder.stat().st_mtime, 0
    except FileNotFoundError:
        return 0, None
    for path in folder.rglob("*"):
        try:
            st = path.stat()
        except FileNotFoundError:
            continue
        newest = max(newest, st.st_mtime)
        size += st.st_size if path.is_file() else 0
    return size, newest


def collect_garbage(
    root: str | os.PathLike, older_than_s: float = DEFAULT_OLDER_THAN_S, dry_run: bool = False
) -> TempReport:
    """Remove the temp files under ``root`` not modified for ``older_than_s`` seconds."""
    if older_than_s < MIN_OLDER_THAN_S:
        msg = (
            f"--older-than {older_than_s:g}: a temp file younger than {MIN_OLDER_THAN_S:g} s may be a running "
            "writer's; give at least that"
        )
        raise InputError(msg)
    report = TempReport(older_than_s, dry_run=dry_run)
    for tmp in temp_files(root):
        if tmp.age_s < older_than_s:
            report.kept.append(tmp)
            continue
        if not dry_run:
            if tmp.folder:
                shutil.rmtree(tmp.path, ignore_errors=True)
            else:
                tmp.path.unlink(missing_ok=True)
        report.removed.append(tmp)
    return report
