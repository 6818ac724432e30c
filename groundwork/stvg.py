"""Spatio-temporal grounding (STVG) facts that both halves agree on: the evaluation frame grid,
the per-query STVG block a dataset adapter puts in a manifest row's ``extra``, and the tube
table written beside an STVG manifest.

**Frame grid.** TubeDETR's rule (antoyang/TubeDETR ``datasets/vidstg_eval.py``; the notes'
section 3.2): the segment's raw frames ``begin <= f < end`` down-sampled to 5 fps (keep ``begin``,
then each f whose ``int(f * 5 / fps)`` exceeds that of the last kept frame), over 200 left keep
``grid[(j * n) // 200]`` for j < 200. HC-STVG through TubeDETR: segment ``[0, frame_count - 1]``,
fps ``frame_count / 20`` (every video is 20 s). The pipeline samples the per-frame patch features
on this grid and the grounding side evaluates on it (``grounding.metrics.stvg`` imports it from
here, so the rule exists once).

**Extra block** (``STVG_KEY`` in a manifest row's ``extra``; ``StvgQuery``): the video's ``fps``,
``frame_count``, ``width`` / ``height`` (pixels of the annotation), the ``segment`` the model sees
(``[begin_fid, end_fid]`` as the annotation gives it), the GT tube ``gt_sted`` (``[s, e)`` raw frame
ids, end exclusive), the target's track id and the ``dataset`` (``vidstg`` / ``hcstvg``, the GT end
convention of the ``dense`` protocol). The sentence type (``declarative`` / ``interrogative``) is the
row's ``extra["sentence_type"]``, absent for HC-STVG.

**Tube table** (``tubes_path(manifest)`` = ``<manifest stem>.tubes.parquet`` beside the manifest,
``TUBE_SCHEMA``): one row per (video, target, frame) with the GT box ``[x1, y1, x2, y2]`` in
pixels, for the grid frames inside each query's GT tube. Boxes stay out of the manifest (VidSTG
train would put ~1.7 M boxes in its JSON column).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow as pa

TUBEDETR_FPS = 5
TUBEDETR_MAX_FRAMES = 200
HCSTVG_SECONDS = 20
STVG_KEY = "stvg"  # the block's key in a manifest row's extra
SENTENCE_TYPE_KEY = "sentence_type"

TUBE_SCHEMA = pa.schema(
    [
        ("video_id", pa.string()),
        ("target_id", pa.string()),  # the track id as a string (VidOR tids are ints, HC-STVG has one target: "0")
        ("fid", pa.int32()),  # raw frame id
        ("x1", pa.float32()),
        ("y1", pa.float32()),
        ("x2", pa.float32()),
        ("y2", pa.float32()),  # pixels
    ]
)


def tubedetr_grid(
    begin: int, end: int, video_fps: float, fps: float = TUBEDETR_FPS, max_len: int = TUBEDETR_MAX_FRAMES
) -> list[int]:
    """TubeDETR's evaluation frames: ``[begin, end)`` down-sampled to ``fps``, then capped at ``max_len``."""
    rate = fps / video_fps
    frames = [begin]
    for f in range(begin, end):
        if int(frames[-1] * rate) < int(f * rate):
            frames.append(f)
    n = len(frames)
    if n > max_len:
        frames = [frames[(j * n) // max_len] for j in range(max_len)]
    return frames


def hcstvg_segment(frame_count: int) -> tuple[tuple[int, int], float]:
    """``(segment, fps)`` of an HC-STVG video as TubeDETR reads it: ``[0, frame_count - 1]``, 20 s long."""
    return (0, frame_count - 1), frame_count / HCSTVG_SECONDS


@dataclass(frozen=True)
class StvgQuery:
    """The STVG block of one query (see the module doc)."""

    fps: float
    frame_count: int
    width: int
    height: int
    segment: tuple[int, int]
    gt_sted: tuple[int, int]
    target_id: str
    dataset: str = "vidstg"

    @classmethod
    def from_extra(cls, extra: dict[str, Any]) -> StvgQuery | None:
        """The block of a decoded ``extra`` dict; None when the row has none (a temporal-only query)."""
        block = extra.get(STVG_KEY)
        if not block:
            return None
        return cls(
            float(block["fps"]),
            int(block["frame_count"]),
            int(block["width"]),
            int(block["height"]),
            (int(block["segment"][0]), int(block["segment"][1])),
            (int(block["gt_sted"][0]), int(block["gt_sted"][1])),
            str(block["target_id"]),
            str(block.get("dataset", "vidstg")),
        )

    def as_extra(self) -> dict[str, Any]:
        return {
            "fps": self.fps,
            "frame_count": self.frame_count,
            "width": self.width,
            "height": self.height,
            "segment": list(self.segment),
            "gt_sted": list(self.gt_sted),
            "target_id": self.target_id,
            "dataset": self.dataset,
        }

    def grid(self) -> list[int]:
        """The query's evaluation (and patch-feature) frames: ``tubedetr_grid`` of its segment."""
        return tubedetr_grid(self.segment[0], self.segment[1], self.fps)

    def gt_frames(self) -> list[int]:
        """Grid frames inside the GT tube: where the GT boxes are needed."""
        s, e = self.gt_sted
        return [f for f in self.grid() if s <= f < e]

    def seconds(self, fid: float) -> float:
        """A raw frame id on the video's time line, in seconds."""
        return float(fid) / self.fps


def tubes_path(manifest: str | Path) -> Path:
    """The tube table beside a manifest: ``manifests/x.parquet`` -> ``manifests/x.tubes.parquet``."""
    manifest = Path(manifest)
    return manifest.with_name(f"{manifest.stem}.tubes.parquet")
