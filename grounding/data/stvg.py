"""The spatio-temporal grounding (STVG) side of a manifest: the batch fields of source ``stvg``
(``grounding.data.fields``) for one query, and its ground-truth tube for scoring.

A query of an STVG manifest carries the STVG block in its ``extra`` (``groundwork.stvg.StvgQuery``:
fps, frame count, size, segment, GT tube ``gt_sted``, target). Its frames are the evaluation grid of
its segment (``StvgQuery.grid``, TubeDETR's 5 fps rule), and for them ``StvgData.fields`` gives:

- ``frame_patches`` (F, P, Dp) float32: the manifest's patch set (``<cache>/visual/<patch_features>/
  {vid}.npz``, written fp16 by the pipeline) at those frame ids, the g x g grid flattened row-major;
- ``frame_times`` (F,): ``fid / fps`` seconds; ``frame_ids`` (F,) int64;
- ``frame_presence`` (F,): 1 on the grid frames inside the GT tube, else 0;
- ``frame_boxes`` (F, 4): the GT box of those frames from the tube table beside the manifest
  (``groundwork.stvg.tubes_path``), as ``[x1, y1, x2, y2]`` divided by the width and height; zeros
  elsewhere. Read only when asked for (a loss: the training split); a manifest without a tube
  table then is a ``MissingInputError`` naming the file and the fix;
- ``frame_size`` (2,): width, height in pixels; ``query_segment`` (2,): the segment in seconds,
  ``[begin_fid / fps, end_fid / fps]``.

``ground_truth_rows(info, rows)`` gives the STVG ground-truth records
(``grounding.metrics.stvg_records``) of manifest rows that have a tube. Patch files are kept in
memory for the last ``CACHED_VIDEOS`` videos read.
"""

from __future__ import annotations

import json
from collections import OrderedDict
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow.parquet as pq

from groundwork.cache.fs import readable
from groundwork.cache.manifest import ManifestInfo
from groundwork.cache.store import CacheStore
from groundwork.errors import InputError, MissingInputError
from groundwork.stvg import SENTENCE_TYPE_KEY, StvgQuery, tubes_path

CACHED_VIDEOS = 64
Tubes = dict[tuple[str, str], dict[int, tuple[float, float, float, float]]]


def stvg_block(row: dict[str, Any]) -> StvgQuery | None:
    """The STVG block of a manifest row (None for a temporal-only row)."""
    return StvgQuery.from_extra(json.loads(row["extra"]) if row.get("extra") else {})


def read_tubes(manifest: str | Path) -> Tubes | None:
    """The tube table beside a manifest as ``{(video_id, target_id): {fid: (x1, y1, x2, y2)}}``;
    None when there is none."""
    path = tubes_path(manifest)
    if not path.is_file():
        return None
    out: Tubes = {}
    table = pq.read_table(path).to_pydict()
    for vid, target, fid, *box in zip(*(table[k] for k in ("video_id", "target_id", "fid", "x1", "y1", "x2", "y2")),
                                      strict=True):
        out.setdefault((vid, target), {})[int(fid)] = tuple(float(x) for x in box)
    return out


class StvgData:
    """Loads the ``stvg`` fields of manifest rows (see the module doc)."""

    def __init__(self, info: ManifestInfo, wanted: set[str] | None = None) -> None:
        """``wanted``: the field names asked for (the GT boxes are read only when named; None: all)."""
        self.info = info
        self.wanted = wanted if wanted is not None else {"frame_boxes"}
        if not info.patch_features:
            msg = (f"manifest {info.path} names no patch_features (per-frame patch grids): build it with "
                   "`priors run` on a spatio-temporal dataset (vidstg / hcstvg / demo_stvg) with --visual-encoder")
            raise InputError(msg)
        self.folder = CacheStore(info.cache_dir).visual_dir(info.patch_features)
        self._tubes: Tubes | None = None
        self._tubes_read = False
        self._videos: OrderedDict[str, tuple[np.ndarray, dict[int, int]]] = OrderedDict()
        self._last: tuple[str, dict[str, np.ndarray]] | None = None

    @property
    def tubes(self) -> Tubes | None:
        if not self._tubes_read:
            self._tubes, self._tubes_read = read_tubes(self.info.path), True
        return self._tubes

    def _patches(self, video_id: str) -> tuple[np.ndarray, dict[int, int]]:
        if video_id in self._videos:
            self._videos.move_to_end(video_id)
            return self._videos[video_id]
        path = self.folder / f"{video_id}.npz"
        if not path.is_file():
            msg = f"video {video_id!r}: no patch grids at {path} (run `priors run` with --visual-encoder again)"
            raise MissingInputError(msg)
        with np.load(readable(path)) as data:
            patches, fids = data["patches"], data["frame_ids"]
        entry = (patches.reshape(len(fids), -1, patches.shape[-1]), {int(f): i for i, f in enumerate(fids)})
        self._videos[video_id] = entry
        if len(self._videos) > CACHED_VIDEOS:
            self._videos.popitem(last=False)
        return entry

    def fields(self, row: dict[str, Any]) -> dict[str, np.ndarray]:
        """Every ``stvg`` field of one manifest row (the last row's are kept: a dataset asks field by field)."""
        if self._last is not None and self._last[0] == row["query_id"]:
            return self._last[1]
        block = stvg_block(row)
        if block is None:
            msg = (f"manifest {self.info.path}: query {row['query_id']!r} has no STVG block in its extra "
                   "(the model needs a spatio-temporal dataset: vidstg / hcstvg / demo_stvg)")
            raise InputError(msg)
        grid = block.grid()
        patches, index = self._patches(row["video_id"])
        missing = [f for f in grid if f not in index]
        if missing:
            msg = (f"video {row['video_id']!r}: the patch set {self.info.patch_features} lacks frame(s) "
                   f"{missing[:5]} of query {row['query_id']!r} (run `priors run` again: it adds them)")
            raise InputError(msg)
        s, e = block.gt_sted
        presence = np.array([s <= f < e for f in grid], np.float32)
        out = {
            "frame_patches": patches[[index[f] for f in grid]].astype(np.float32),
            "frame_times": np.array([block.seconds(f) for f in grid], np.float32),
            "frame_ids": np.array(grid, np.int64),
            "frame_presence": presence,
            **({"frame_boxes": self._boxes(row, block, grid)} if "frame_boxes" in self.wanted else {}),
            "frame_size": np.array([block.width, block.height], np.float32),
            "query_segment": np.array([block.seconds(block.segment[0]), block.seconds(block.segment[1])], np.float32),
        }
        self._last = (row["query_id"], out)
        return out

    def _boxes(self, row: dict[str, Any], block: StvgQuery, grid: list[int]) -> np.ndarray:
        """(F, 4) normalised GT boxes on the GT tube's grid frames, zeros elsewhere."""
        tubes = self.tubes
        boxes = np.zeros((len(grid), 4), np.float32)
        if tubes is None:
            msg = (f"manifest {self.info.path}: no tube table {tubes_path(self.info.path)} (the GT boxes the "
                   "model's loss needs); run `priors run` on the dataset with its boxes (vidstg: "
                   "--dataset-options boxes=VIDOR_DIR)")
            raise MissingInputError(msg)
        if block.width <= 0 or block.height <= 0:
            msg = f"manifest {self.info.path}: query {row['query_id']!r} has no frame size to normalise its boxes"
            raise InputError(msg)
        track = tubes.get((row["video_id"], block.target_id), {})
        s, e = block.gt_sted
        scale = np.array([block.width, block.height, block.width, block.height], np.float32)
        for i, f in enumerate(grid):
            if s <= f < e and f in track:
                boxes[i] = np.asarray(track[f], np.float32) / scale
        return boxes


def ground_truth_rows(info: ManifestInfo, rows: list[dict[str, Any]], tubes: Tubes | None = None
                      ) -> list[dict[str, Any]]:
    """STVG ground-truth records (``grounding.metrics.stvg_records``) of the rows that have an STVG
    block and a tube (GT boxes on every grid frame of the GT tube); others are left out."""
    tubes = tubes if tubes is not None else (read_tubes(info.path) or {})
    out = []
    for row in rows:
        block = stvg_block(row)
        if block is None:
            continue
        track = tubes.get((row["video_id"], block.target_id))
        frames = block.gt_frames()
        if not track or any(f not in track for f in frames):
            continue
        extra = json.loads(row["extra"]) if row.get("extra") else {}
        out.append({"qid": row["query_id"], "vid": row["video_id"], "qtype": extra.get(SENTENCE_TYPE_KEY),
                    "split": row["split"], "gt_sted": list(block.gt_sted),
                    "gt_boxes": {f: list(track[f]) for f in frames}, "segment": list(block.segment),
                    "fps": block.fps, "frame_count": block.frame_count, "dataset": block.dataset})
    return out
