"""VidOR per-video annotation files, the box source of VidSTG (VidSTG train and val boxes come
from VidOR *training*, test boxes from VidOR *validation*).

A VidOR folder holds ``<partition>/<group>/<video_id>.json`` (any depth: the files are found by
name under the folder given). Each file has ``trajectories``: one list per frame, each item
``{tid, bbox {xmin, ymin, xmax, ymax}, generated, tracker}``; a track is listed on the frames
where it is annotated. ``VidorBoxes(folder).track(video_id, tid)`` gives ``{frame id: (x1, y1,
x2, y2)}`` in pixels; each file is read once, on first use, and errors name the file and frame.
"""

from __future__ import annotations

from pathlib import Path

from groundwork.errors import InputError
from pipeline.datasets.files import (
    dict_field,
    list_field,
    load_json,
    number_field,
    require,
)
from pipeline.datasets.tubes import Box, check_box


class VidorBoxes:
    def __init__(self, folder: Path) -> None:
        folder = Path(folder)
        if not folder.is_dir():
            msg = f"VidOR annotation folder {folder} does not exist (the boxes of VidSTG; --dataset-options boxes=DIR)"
            raise InputError(msg)
        self.folder = folder
        self.files = {p.stem: p for p in sorted(folder.rglob("*.json")) if not p.name.startswith(".")}
        self._tracks: dict[str, dict[str, dict[int, Box]]] = {}

    def __contains__(self, video_id: str) -> bool:
        return video_id in self.files

    def tracks(self, video_id: str) -> dict[str, dict[int, Box]]:
        """Every track of a video: ``{tid (as a string): {frame id: box}}``; {} when VidOR has no file for it."""
        if video_id not in self._tracks:
            path = self.files.get(video_id)
            self._tracks[video_id] = read_vidor_tracks(path) if path is not None else {}
        return self._tracks[video_id]

    def track(self, video_id: str, tid: int | str) -> dict[int, Box]:
        return self.tracks(video_id).get(str(tid), {})


def read_vidor_tracks(path: Path) -> dict[str, dict[int, Box]]:
    """``{tid: {frame id: box}}`` of one VidOR file."""
    data = load_json(path)
    frames = list_field(data, "trajectories", str(path))
    out: dict[str, dict[int, Box]] = {}
    for fid, items in enumerate(frames):
        where = f"{path}: trajectories[{fid}]"
        if not isinstance(items, list):
            msg = f"{where}: expected a list of boxes, got {type(items).__name__}"
            raise InputError(msg)
        for k, item in enumerate(items):
            at = f"{where}[{k}]"
            tid = require(item, "tid", at)
            bbox = dict_field(item, "bbox", at)
            box = check_box([number_field(bbox, key, f"{at}.bbox") for key in ("xmin", "ymin", "xmax", "ymax")], at)
            out.setdefault(str(tid), {})[fid] = box
    return out
