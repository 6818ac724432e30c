"""Raw video frames for pictures (the spatio-temporal plot's frame strip): find a video file by id
under the dataset's usual folders (recursively: VidOR's ``video/<group>/<id>.mp4``) and decode
frames by index with PyAV. PyAV comes with the pipeline extra; without it, or without the file,
``read_frames`` gives None and the plot draws the boxes on blank frames (it says so)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

EXTENSIONS = (".mp4", ".mkv", ".webm", ".avi", ".mov")


def find_video(video_id: str, folders: Sequence[Path]) -> Path | None:
    """The first ``<video_id>.<ext>`` under ``folders`` (searched recursively), or None."""
    for folder in folders:
        folder = Path(folder)
        if not folder.is_dir():
            continue
        for ext in EXTENSIONS:
            found = next(iter(sorted(folder.rglob(f"{video_id}{ext}"))), None)
            if found is not None:
                return found
    return None


def read_frames(path: Path | None, frame_ids: Sequence[int]) -> np.ndarray | None:
    """Frames ``frame_ids`` (raw indices, decode order) of a video as (n, H, W, 3) uint8, or None
    when there is no file, no PyAV, or the video ends before the last one."""
    if path is None or not Path(path).is_file() or not frame_ids:
        return None
    try:
        import av
    except ImportError:
        return None
    wanted = sorted(set(int(f) for f in frame_ids))
    found: dict[int, np.ndarray] = {}
    try:
        with av.open(str(path)) as container:
            for k, frame in enumerate(container.decode(video=0)):
                if k in wanted:
                    found[k] = frame.to_ndarray(format="rgb24")
                if k >= wanted[-1]:
                    break
    except (av.error.FFmpegError, OSError):
        return None
    if len(found) < len(wanted):
        return None
    return np.stack([found[int(f)] for f in frame_ids])
