"""Per-frame patch grids for spatio-temporal grounding: the vision tower's patch tokens (the last
hidden state without its CLS token) average-pooled to a ``grid x grid`` map per frame, stored
fp16 as ``{vid}.npz`` with two keys:

- ``patches``: ``(F, grid, grid, D)`` float16, row-major over the image (row 0 is the top);
- ``frame_ids``: ``(F,)`` int64, the raw frame id of each row, ascending (the union of the
  evaluation grids of the video's STVG queries, ``groundwork.stvg.StvgQuery.grid``).

Each frame is resized to the tower's square input **without cropping** (squashed: CLIP's
processor would cut the sides of a wide frame, and a box there could not be found), so cell
``(r, c)`` covers ``[c / grid, (c + 1) / grid) x [r / grid, (r + 1) / grid)`` of the whole frame in
normalised coordinates. A tower whose native patch grid is smaller than ``grid`` (the demo's
64 px tiny CLIP has 4 x 4 patches) is upsampled by the same adaptive pooling; give it a larger
input (``build_tiny_clip_vision(image_size=112)``: 7 x 7) for real resolution.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from groundwork.atomic import atomic_write
from groundwork.cache.fs import cache_location, readable
from pipeline.features.visual import VisualEncoder

DEFAULT_GRID = 7


class PatchEncoder(VisualEncoder):
    """A ``VisualEncoder`` whose ``encode`` maps frames (N, H, W, 3) uint8 to patch grids
    (N, grid, grid, D) float16 (``dim`` = the tower's hidden size)."""

    def __init__(self, model: str | Path, device: str = "cpu", grid: int = DEFAULT_GRID, batch_size: int = 32) -> None:
        super().__init__(model, device, pooling="mean", batch_size=batch_size)
        if grid < 1:
            msg = f"PatchEncoder grid={grid} must be at least 1"
            raise ValueError(msg)
        self.grid = grid

    def spec(self) -> dict[str, Any]:
        return {**super().spec(), "pooling": f"patch_grid{self.grid}", "resize": "squash"}

    def encode(self, frames: np.ndarray) -> np.ndarray:
        import torch
        from PIL import Image

        if frames.ndim != 4 or frames.shape[-1] != 3 or frames.dtype != np.uint8:
            msg = f"PatchEncoder.encode: frames must be (N, H, W, 3) uint8, got {frames.shape} {frames.dtype}"
            raise ValueError(msg)
        self.setup()
        side = int(self._model.config.image_size)
        chunks = []
        with torch.inference_mode():
            for i in range(0, len(frames), self.batch_size):
                chunk = frames[i : i + self.batch_size]
                images = [Image.fromarray(f).resize((side, side), Image.BILINEAR) for f in chunk]
                batch = self._processor(images=images, return_tensors="pt")
                tokens = self._model(pixel_values=batch["pixel_values"].to(self.device)).last_hidden_state[:, 1:]
                b, p, d = tokens.shape
                n = round(p**0.5)
                maps = tokens.reshape(b, n, n, d).permute(0, 3, 1, 2)
                pooled = torch.nn.functional.adaptive_avg_pool2d(maps, self.grid).permute(0, 2, 3, 1)
                chunks.append(pooled.float().cpu().numpy().astype(np.float16))
        if not chunks:
            return np.zeros((0, self.grid, self.grid, self.dim), np.float16)
        return np.concatenate(chunks)


def write_patch_features(folder: Path, video_id: str, patches: np.ndarray, frame_ids: np.ndarray) -> Path:
    """Write ``folder/{video_id}.npz`` (``patches`` fp16, ``frame_ids`` int64) atomically."""
    patches = np.asarray(patches)
    frame_ids = np.asarray(frame_ids, dtype=np.int64)
    if patches.ndim != 4 or patches.shape[0] != len(frame_ids) or not np.isfinite(patches).all():
        msg = (
            f"video {video_id!r}: patches must be a finite (F, grid, grid, D) array with one row per frame id, "
            f"got shape {patches.shape} for {len(frame_ids)} frame ids"
        )
        raise ValueError(msg)
    if len(frame_ids) > 1 and not (np.diff(frame_ids) > 0).all():
        msg = f"video {video_id!r}: frame_ids must be strictly ascending"
        raise ValueError(msg)
    half = patches.astype(np.float16)
    return atomic_write(
        cache_location(folder) / f"{video_id}.npz", lambda tmp: np.savez(tmp, patches=half, frame_ids=frame_ids)
    )


def read_frame_ids(path: Path) -> np.ndarray | None:
    """The ``frame_ids`` of a patch file, or None when it is missing or unreadable."""
    try:
        with np.load(readable(path)) as data:
            return np.asarray(data["frame_ids"], dtype=np.int64)
    except (OSError, KeyError, ValueError):
        return None
