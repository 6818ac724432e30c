"""Frame sampling with decord at exact timestamps.

A frame is chosen by its presentation timestamp (``VideoReader.get_frame_timestamp``), never by
``round(t * fps)``, so variable-frame-rate videos land on the right seconds. Two pick rules:

- ``covering`` (default): the frame on screen at ``t``, i.e. the last frame whose start
  time is <= t. It is at most one frame before ``t`` on a constant-rate video.
- ``nearest``: the frame whose start time is closest to ``t`` (ties go to the earlier one).
  It is within half a frame of ``t`` on a constant-rate video, but on a variable-rate video it can
  pick a frame that is not on screen yet.

Each video is opened once, at the decode size the resize policy gives. A bad file (missing,
empty, not a video, truncated, undecodable) becomes a ``SampledFrames`` with ``status="error"``:
``sample`` never raises for a bad file. Requested times past the end of a video are clipped to
its last frame and counted in ``n_clipped``.
"""

from __future__ import annotations

import math
import struct
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, model_validator

SAMPLER_VERSION = 1  # bump when the choice of frames or pixels changes for the same spec
_EPS = 1e-6  # seconds; absorbs float error in pts * time_base


def time_grid(duration: float, step: float) -> list[float]:
    """0, step, 2 step, ... while t < duration - 1e-6 s: the one time-grid rule of the project
    (frame sampling, narratives, clip windows, visual features). The microsecond tolerance absorbs
    float error in durations (3.0000000006 s gives 0, 1, 2); times are rounded to 6 decimals, as
    in cache keys."""
    if step <= 0:
        msg = f"time_grid: step must be positive, got {step}"
        raise ValueError(msg)
    n = max(0, math.ceil((duration - _EPS) / step))
    return [round(i * step, 6) for i in range(n)]


class ResizePolicy(BaseModel):
    """Decode size. ``none``: native; ``short_side``: scale so the short side is ``short_side``
    pixels, keeping the aspect ratio (needs the native size, read from the container header);
    ``fixed``: exactly ``width`` x ``height``."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    mode: Literal["none", "short_side", "fixed"] = "none"
    short_side: int | None = Field(None, gt=0)
    width: int | None = Field(None, gt=0)
    height: int | None = Field(None, gt=0)

    @model_validator(mode="after")
    def _check_sizes(self) -> ResizePolicy:
        needed = {"none": set(), "short_side": {"short_side"}, "fixed": {"width", "height"}}[self.mode]
        given = {name for name in ("short_side", "width", "height") if getattr(self, name) is not None}
        if given != needed:
            msg = f"ResizePolicy mode={self.mode!r} needs exactly {sorted(needed)}; got {sorted(given)}"
            raise ValueError(msg)
        return self

    def decode_size(self, native: tuple[int, int] | None) -> tuple[int, int]:
        """(width, height) for decord; (-1, -1) means native size."""
        if self.mode == "fixed":
            return int(self.width), int(self.height)  # type: ignore[arg-type]
        if self.mode == "short_side" and native is not None:
            w, h = native
            scale = self.short_side / min(w, h)  # type: ignore[operator]
            return max(1, round(w * scale)), max(1, round(h * scale))
        return -1, -1


@dataclass
class SampledFrames:
    """Frames of one video at the requested times, or the reason there are none."""

    video_id: str
    path: str
    timestamps: list[float]  # requested times, seconds
    frame_times: list[float] = field(default_factory=list)  # start (pts) of each chosen frame
    frame_indices: list[int] = field(default_factory=list)
    frames: np.ndarray | None = None  # (N, H, W, 3) uint8, None on error
    fps: float = 0.0  # average rate reported by the container
    duration: float = 0.0  # end of the last frame, seconds
    n_frames: int = 0  # frames in the video
    n_clipped: int = 0  # requested times at or past the end, mapped to the last frame
    status: Literal["ok", "error"] = "ok"
    error_type: str | None = None  # missing_file, empty_file, not_a_video, truncated, corrupt, decode_error
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.status == "ok"


def pick_covering(starts: np.ndarray, times: np.ndarray) -> np.ndarray:
    """Index of the frame on screen at each time: the last one whose start <= t."""
    idx = np.searchsorted(starts, times + _EPS, side="right") - 1
    return np.clip(idx, 0, len(starts) - 1)


def pick_nearest(starts: np.ndarray, times: np.ndarray) -> np.ndarray:
    """Index of the frame whose start is closest to each time (earlier one on a tie)."""
    right = np.clip(np.searchsorted(starts, times, side="left"), 0, len(starts) - 1)
    left = np.clip(right - 1, 0, len(starts) - 1)
    take_left = np.abs(times - starts[left]) <= np.abs(starts[right] - times) + _EPS
    return np.where(take_left, left, right)


PICKERS: dict[str, Callable[[np.ndarray, np.ndarray], np.ndarray]] = {
    "covering": pick_covering,
    "nearest": pick_nearest,
}


class FrameSampler(BaseModel):
    """Samples frames every ``interval`` seconds (or at given times) with one decord open."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    interval: float = Field(1.0, gt=0.0)
    resize: ResizePolicy = ResizePolicy()
    pick: Literal["covering", "nearest"] = "covering"

    def spec(self) -> dict[str, Any]:
        """Everything that decides which pixels come out: goes into cache keys."""
        return {
            "sampler": "decord",
            "version": SAMPLER_VERSION,
            "interval": self.interval,
            "pick": self.pick,
            "resize": self.resize.model_dump(),
        }

    def timestamps(self, duration: float) -> list[float]:
        """0, interval, 2*interval, ... while t < duration (``time_grid``)."""
        return time_grid(duration, self.interval)

    def sample(self, path: str | Path, timestamps: list[float] | None = None, video_id: str = "") -> SampledFrames:
        path = Path(path)
        out = SampledFrames(video_id=video_id or path.stem, path=str(path), timestamps=list(timestamps or []))
        if any(t < 0 for t in out.timestamps):
            msg = f"{path}: negative timestamp requested for video {out.video_id!r}: {min(out.timestamps)}"
            raise ValueError(msg)
        problem = _precheck(path)
        if problem is not None:
            return _failed(out, *problem)
        import decord  # heavy native import, only where frames are decoded

        try:
            width, height = self.resize.decode_size(_native_size(path) if self.resize.mode == "short_side" else None)
            vr = decord.VideoReader(str(path), ctx=decord.cpu(0), width=width, height=height)
        except (RuntimeError, decord.DECORDError) as exc:
            error_type, detail = diagnose_unreadable(path)
            return _failed(out, error_type, f"{path}: cannot be opened by decord ({detail}): {_short(exc)}")
        try:
            out.n_frames = len(vr)
            if out.n_frames == 0:
                return _failed(out, "not_a_video", f"{path}: the video stream has no frames")
            spans = np.asarray(vr.get_frame_timestamp(list(range(out.n_frames))), dtype=np.float64)
            starts, out.duration, out.fps = spans[:, 0], float(spans[-1, 1]), float(vr.get_avg_fps())
            if timestamps is None:
                out.timestamps = self.timestamps(out.duration)
            times = np.asarray(out.timestamps, dtype=np.float64)
            idx = PICKERS[self.pick](starts, times)
            out.n_clipped = int(np.sum(times >= out.duration - _EPS))
            unique, inverse = np.unique(idx, return_inverse=True)
            decoded = vr.get_batch(unique.tolist()).asnumpy() if len(unique) else np.zeros((0, 0, 0, 3), np.uint8)
            out.frames = decoded[inverse.reshape(-1)]
            out.frame_indices = idx.tolist()
            out.frame_times = np.round(starts[idx], 6).tolist()
        except (RuntimeError, decord.DECORDError) as exc:
            return _failed(out, "decode_error", f"{path}: decord failed while decoding frames: {_short(exc)}")
        return out


def _failed(out: SampledFrames, error_type: str, error: str) -> SampledFrames:
    out.status, out.error_type, out.error, out.frames = "error", error_type, error, None
    out.frame_times, out.frame_indices = [], []
    return out


def _short(exc: BaseException, limit: int = 300) -> str:
    text = " ".join(str(exc).split())
    return text if len(text) <= limit else text[:limit] + "..."


def _precheck(path: Path) -> tuple[str, str] | None:
    if not path.exists():
        return "missing_file", f"{path}: no such file"
    if not path.is_file():
        return "not_a_video", f"{path}: not a regular file"
    if path.stat().st_size == 0:
        return "empty_file", f"{path}: file is empty (0 bytes)"
    return None


def _native_size(path: Path) -> tuple[int, int] | None:
    """(width, height) from the container header; no frame is decoded."""
    import av

    try:
        with av.open(str(path)) as container:
            ctx = container.streams.video[0].codec_context
            return int(ctx.width), int(ctx.height)
    except (av.error.FFmpegError, IndexError):
        return None  # decord will report the file


_CONTAINER_MAGIC = {b"\x1a\x45\xdf\xa3": "matroska/webm", b"RIFF": "avi"}


def diagnose_unreadable(path: Path) -> tuple[str, str]:
    """Why a non-empty file did not open: ``truncated`` (an MP4/MOV whose last box runs past the
    end of the file, or that has no ``moov`` box), ``corrupt`` (a known container with damaged
    boxes or undecodable streams), or ``not_a_video`` (no known container signature)."""
    with open(path, "rb") as f:
        head = f.read(12)
    size = path.stat().st_size
    if head[4:8] == b"ftyp":
        boxes, offset = [], 0
        with open(path, "rb") as f:
            while offset + 8 <= size:
                f.seek(offset)
                box_size, box_type = struct.unpack(">I4s", f.read(8))
                if box_size == 1:
                    box_size = struct.unpack(">Q", f.read(8))[0]
                elif box_size == 0:
                    box_size = size - offset
                boxes.append(box_type)
                if not all(32 <= c < 127 for c in box_type):
                    return "corrupt", f"damaged MP4 box structure at byte {offset} (box type {box_type!r})"
                if box_size < 8 or offset + box_size > size:
                    return "truncated", f"MP4 box {box_type!r} runs past the end of the file ({size} bytes)"
                offset += box_size
        if b"moov" not in boxes:
            return "truncated", f"MP4 without a 'moov' box (boxes: {[b.decode('latin-1') for b in boxes]})"
        return "corrupt", "MP4 boxes are complete but the streams cannot be read"
    for magic, name in _CONTAINER_MAGIC.items():
        if head.startswith(magic):
            return "corrupt", f"{name} signature but unreadable"
    return "not_a_video", f"no known video container signature (starts with {head[:8]!r})"
