"""Finding a dataset's video files: ``<video_root>/**/<video_id>.<ext>``."""

from __future__ import annotations

from pathlib import Path

from groundwork.errors import InputError

VIDEO_EXTENSIONS: tuple[str, ...] = (".mp4", ".mkv", ".avi", ".webm", ".mov")


def index_videos(root: Path) -> dict[str, Path]:
    """Map video id (file stem) -> path for every video file under ``root`` (recursively, so
    nested layouts such as VidOR's ``<group>/<id>.mp4`` work). The first extension in
    VIDEO_EXTENSIONS wins when one id has several files."""
    root = Path(root)
    if not root.is_dir():
        msg = f"video root {root} does not exist or is not a directory"
        raise InputError(msg)
    rank = {ext: i for i, ext in enumerate(VIDEO_EXTENSIONS)}
    found: dict[str, Path] = {}
    for path in sorted(root.rglob("*")):
        ext = path.suffix.lower()
        if ext not in rank or not path.is_file():
            continue
        current = found.get(path.stem)
        if current is None or rank[ext] < rank[current.suffix.lower()]:
            found[path.stem] = path
    return found
