"""``decode``: open each video once, sample every frame its requests need (decord, exact
timestamps) and emit one row per request with its images. A bad video turns into error rows."""

from __future__ import annotations

import json
from typing import Any, ClassVar, Protocol

import numpy as np

from pipeline.stages.base import Batch, Resources, Stage

NO_IMAGES = np.zeros((0, 1, 1, 3), np.uint8)

REQUEST_COLUMNS = (
    "key",
    "kind",
    "video_id",
    "video_sha256",
    "query_id",
    "t_start",
    "t_end",
    "frame_times",
    "prompt_vars",
    "images",
    "status",
    "error_type",
    "error",
    "n_decoded",
)


class Sampler(Protocol):  # pipeline.frames.FrameSampler
    def sample(self, path: Any, timestamps: list[float] | None = None, video_id: str = "") -> Any: ...


class DecodeStage(Stage):
    name: ClassVar[str] = "decode"
    reads: ClassVar[tuple[str, ...]] = ("video_id", "path", "video_sha256", "requests")
    writes: ClassVar[tuple[str, ...]] = REQUEST_COLUMNS

    def __init__(self, sampler: Sampler, resources: Resources = Resources(cpus=1.0, batch_size=1)) -> None:
        self.sampler = sampler
        self.resources = resources

    def process_batch(self, batch: Batch) -> Batch:
        out: dict[str, list] = {c: [] for c in REQUEST_COLUMNS}
        for i, vid in enumerate(batch["video_id"]):
            requests = json.loads(batch["requests"][i])
            if not requests:
                continue
            path = str(batch["path"][i] or "")
            times = sorted({t for r in requests for t in r["frame_times"]})
            frames, index, err = self._sample(path, times, str(vid))
            for j, req in enumerate(requests):
                if err is None:
                    images = (
                        np.stack([frames[index[t]] for t in req["frame_times"]]) if req["frame_times"] else NO_IMAGES
                    )
                    status, etype, emsg = "ok", "", ""
                else:
                    images, (status, etype, emsg) = NO_IMAGES, ("error", *err)
                row = {
                    **req,
                    "video_id": str(vid),
                    "video_sha256": str(batch["video_sha256"][i] or ""),
                    "frame_times": json.dumps(req["frame_times"]),
                    "prompt_vars": json.dumps(req["prompt_vars"]),
                    "images": images,
                    "status": status,
                    "error_type": etype,
                    "error": emsg,
                    "n_decoded": len(times) if (j == 0 and err is None) else 0,
                }
                for c in REQUEST_COLUMNS:
                    out[c].append(row[c])
        return out

    def _sample(self, path: str, times: list[float], vid: str) -> tuple[Any, dict[float, int], tuple[str, str] | None]:
        if not times:  # text-only requests (query rewrites): nothing to decode
            return NO_IMAGES, {}, None
        if not path:
            return None, {}, ("missing_video", f"decode: video '{vid}' has no file (check --video-root)")
        got = self.sampler.sample(path, timestamps=times, video_id=vid)
        if got.status != "ok" or got.frames is None:
            return None, {}, (got.error_type or "decode_error", f"decode: video '{vid}' ({path}): {got.error}")
        return got.frames, {t: k for k, t in enumerate(times)}, None
