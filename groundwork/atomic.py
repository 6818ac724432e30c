"""One way to write a file so that nobody ever reads half of it: write a temporary name in the
same folder, fsync it, rename it over the final name, fsync the folder. A killed writer leaves at
most a ``.tmp-*`` file, which every reader ignores (names starting with a dot) and ``priors gc``
removes; a crash after the rename keeps the file (the durability policy is the same for every
file the project writes: cache shards, manifests, features, reports, checkpoints, demo data)."""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Callable
from pathlib import Path

from groundwork.cache.fs import StorePath, store_write

TMP_PREFIX = ".tmp-"


def _fsync_path(path: Path, directory: bool = False) -> None:
    flags = os.O_RDONLY | (getattr(os, "O_DIRECTORY", 0) if directory else 0)
    try:
        fd = os.open(path, flags)
    except OSError:  # some filesystems refuse to open a folder; the rename is still atomic there
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def temp_name(path: Path) -> Path:
    """A unique temporary sibling of ``path``; it keeps ``path``'s suffix (numpy, pyav look at it)."""
    return path.with_name(f"{TMP_PREFIX}{uuid.uuid4().hex}-{path.name}")


def atomic_write(path: str | os.PathLike | StorePath, write: Callable[[Path], object]) -> Path | StorePath:
    """``write(tmp)`` fills a temporary file, which then replaces ``path`` atomically and durably.
    A ``StorePath`` (a cache on an object store or other pyarrow file system) is written from a
    local temporary file in one piece (``groundwork.cache.fs.store_write``)."""
    if isinstance(path, StorePath):
        return store_write(path, write, TMP_PREFIX)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = temp_name(path)
    try:
        write(tmp)
        _fsync_path(tmp)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    _fsync_path(path.parent, directory=True)
    return path


def atomic_write_bytes(path: str | os.PathLike, data: bytes) -> Path:
    return atomic_write(path, lambda tmp: tmp.write_bytes(data))


def atomic_write_text(path: str | os.PathLike, text: str) -> Path:
    return atomic_write(path, lambda tmp: tmp.write_text(text, encoding="utf-8"))


def atomic_replace_dir(folder: str | os.PathLike, fill: Callable[[Path], object]) -> Path:
    """``fill(tmp)`` writes a whole folder (a checkpoint), which then takes the place of
    ``folder``: the old one is renamed aside first and removed after, so at every moment either
    the old or the new complete folder is there under ``folder`` or its ``.old-*`` name."""
    folder = Path(folder)
    folder.parent.mkdir(parents=True, exist_ok=True)
    tmp = temp_name(folder)
    try:
        tmp.mkdir()
        fill(tmp)
        for file in tmp.rglob("*"):
            if file.is_file():
                _fsync_path(file)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    old = folder.with_name(f".old-{uuid.uuid4().hex}-{folder.name}")
    if folder.exists():
        folder.rename(old)
    tmp.rename(folder)
    _fsync_path(folder.parent, directory=True)
    shutil.rmtree(old, ignore_errors=True)
    return folder
