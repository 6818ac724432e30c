"""Ground-truth tubes of spatio-temporal grounding (STVG) datasets: the target's box on each
evaluation-grid frame inside a query's GT tube (``groundwork.stvg``: the grid, the STVG block of
``extra``, the tube table). Shared by the ``vidstg`` adapter (boxes from VidOR trajectory files,
``pipeline.datasets.vidor``) and ``hcstvg`` (boxes in the annotation itself).

Counted policies (``PolicyReport``, per split, one count per query):

- ``filled_gt_box_from_nearest_frame``: a grid frame inside the GT tube where the target has no
  box (VidOR leaves a track's frames unannotated while it is occluded) takes the box of the
  nearest frame of the track inside the tube (the earlier one on a tie). The reference evaluators
  need a GT box on every such frame (TubeDETR raises without one).
- ``dropped_without_gt_boxes``: with a box source given, a query whose target has no box
  anywhere inside its GT tube (a track id absent from the trajectories, or annotated only
  outside the tube) is dropped: it cannot be scored spatially.

Boxes are ``(x1, y1, x2, y2)`` in pixels of the annotation; a box whose corners are reversed or
not finite is an ``InputError`` naming the file and frame.
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Mapping

from groundwork.errors import InputError
from groundwork.stvg import StvgQuery

Box = tuple[float, float, float, float]
Track = Mapping[int, Box]  # raw frame id -> box of one target

FILLED_GT_BOX = "filled_gt_box_from_nearest_frame"
DROPPED_WITHOUT_GT_BOXES = "dropped_without_gt_boxes"
RULES = (FILLED_GT_BOX, DROPPED_WITHOUT_GT_BOXES)


def check_box(box: object, where: str) -> Box:
    """Four finite numbers with x1 <= x2 and y1 <= y2, as floats."""
    if (
        not isinstance(box, list | tuple)
        or len(box) != 4
        or not all(isinstance(x, int | float) and not isinstance(x, bool) for x in box)
    ):
        msg = f"{where}: a box must be four numbers [x1, y1, x2, y2], got {box!r}"
        raise InputError(msg)
    x1, y1, x2, y2 = (float(x) for x in box)
    if not all(math.isfinite(v) for v in (x1, y1, x2, y2)) or x1 > x2 or y1 > y2:
        msg = f"{where}: box [x1, y1, x2, y2] = {[x1, y1, x2, y2]} is not finite with x1 <= x2 and y1 <= y2"
        raise InputError(msg)
    return x1, y1, x2, y2


def tube_boxes(query: StvgQuery, track: Track) -> tuple[dict[int, Box], int]:
    """``({grid frame in the GT tube: box}, frames filled from the nearest annotated frame)``; an
    empty dict when the track has no box inside the tube."""
    s, e = query.gt_sted
    known = sorted(f for f in track if s <= f < e)
    if not known:
        return {}, 0
    out: dict[int, Box] = {}
    filled = 0
    for f in query.gt_frames():
        if f in track:
            out[f] = track[f]
            continue
        i = bisect.bisect_left(known, f)
        candidates = [known[j] for j in (i - 1, i) if 0 <= j < len(known)]
        nearest = min(candidates, key=lambda k: (abs(k - f), k))
        out[f] = track[nearest]
        filled += 1
    return out, filled


class TubeBook:
    """GT boxes of every kept STVG query, merged per (video, target): what ``Annotations.tubes``
    holds and the pipeline writes as the tube table."""

    def __init__(self) -> None:
        self.boxes: dict[tuple[str, str], dict[int, Box]] = {}

    def add(self, video_id: str, target_id: str, boxes: Mapping[int, Box]) -> None:
        self.boxes.setdefault((video_id, target_id), {}).update(boxes)
