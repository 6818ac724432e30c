"""Cache keys of prior rows: the hash of canonical JSON of everything that decides the output.

A key spec holds the video's content hash, the timestamps (or window) and the frame times fed to
the model, the frame sampler's spec (resize), the model id and revision, the prompt's id, version
and template hash, the sampling parameters and, for query-level kinds, the query text's hash.
Change any of them and the key changes; change none and a rerun finds every row cached.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from groundwork.atomic import atomic_write_text
from groundwork.cache.hashing import cache_key, canonical_json, sha256_file

KEY_VERSION = 1  # bump when the spec layout itself changes


@dataclass(frozen=True)
class GenerationIdentity:
    """What decides a generated text apart from its inputs: model, prompt and sampling."""

    model: str
    model_revision: str
    prompt_id: str
    prompt_version: int
    prompt_sha256: str
    sampler: dict[str, Any]  # FrameSampler.spec()
    sampling: dict[str, Any]  # SamplingConfig.model_dump()


def video_identity(video_sha256: str, video_id: str) -> str:
    """The content hash; a missing file is named by its id so its error row has a stable key."""
    return video_sha256 or f"missing:{video_id}"


def prior_key_spec(
    kind: str,
    ident: GenerationIdentity,
    *,
    video_sha256: str,
    video_id: str,
    t_start: float,
    t_end: float,
    frame_times: list[float],
    query_sha256: str = "",
) -> dict[str, Any]:
    return {
        "v": KEY_VERSION,
        "kind": kind,
        "video": video_identity(video_sha256, video_id),
        "t": [round(float(t_start), 6), round(float(t_end), 6)],
        "frames": [round(float(t), 6) for t in frame_times],
        "query": query_sha256,
        "sampler": ident.sampler,
        "model": ident.model,
        "revision": ident.model_revision,
        "prompt": {"id": ident.prompt_id, "version": ident.prompt_version, "sha256": ident.prompt_sha256},
        "sampling": ident.sampling,
    }


def prior_key(kind: str, ident: GenerationIdentity, **inputs: Any) -> str:
    return cache_key(prior_key_spec(kind, ident, **inputs))


class KeyMaker:
    """``prior_key`` for one (kind, identity), fast: the constant part of the canonical JSON is
    serialised once and the per-request values are spliced in, giving byte-identical JSON
    (sorted keys, compact), hence identical keys. The plan hashes every request of a dataset,
    cached or not, so this is what a warm rerun spends its time on."""

    def __init__(self, kind: str, ident: GenerationIdentity) -> None:
        probe = prior_key_spec(kind, ident, video_sha256="\x00V", video_id="", t_start=0.0, t_end=0.0, frame_times=[])
        probe.update(frames="\x00F", query="\x00Q", t="\x00T")
        text = canonical_json(probe)
        self._parts = []
        for marker in ('"\\u0000F"', '"\\u0000Q"', '"\\u0000T"', '"\\u0000V"'):
            head, text = text.split(marker)
            self._parts.append(head)
        self._parts.append(text)

    def __call__(
        self,
        *,
        video_sha256: str,
        video_id: str,
        t_start: float,
        t_end: float,
        frame_times: list[float],
        query_sha256: str = "",
    ) -> str:
        p = self._parts
        frames = _floats([round(float(t), 6) for t in frame_times])
        times = _floats([round(float(t_start), 6), round(float(t_end), 6)])
        text = (
            f"{p[0]}{frames}{p[1]}{_encode(query_sha256)}{p[2]}{times}{p[3]}"
            f"{_encode(video_identity(video_sha256, video_id))}{p[4]}"
        )
        return hashlib.sha256(text.encode("utf-8")).hexdigest()


_encode = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False, allow_nan=False).encode


def _floats(values: list[float]) -> str:
    """A JSON list of finite floats, as json.dumps writes it (float.__repr__)."""
    if not all(math.isfinite(v) for v in values):
        msg = f"cache key: times must be finite, got {values}"
        raise ValueError(msg)
    return "[" + ",".join(map(repr, values)) + "]"


class VideoHashes:
    """sha256 of video files, memoised in ``<cache>/video_hashes.json`` by (path, size, mtime)
    so a warm rerun does not re-read every video."""

    def __init__(self, memo_path: Path) -> None:
        self.memo_path = memo_path
        self._memo: dict[str, str] = {}
        if memo_path.is_file():
            self._memo = json.loads(memo_path.read_text())
        self._dirty = False

    def __call__(self, path: Path | None) -> str:
        """The file's sha256, or "" when it is missing or unreadable (decode records why)."""
        if path is None or not Path(path).is_file():
            return ""
        st = os.stat(path)
        memo_key = f"{Path(path).resolve()}|{st.st_size}|{st.st_mtime_ns}"
        if memo_key not in self._memo:
            try:
                self._memo[memo_key] = sha256_file(path)
            except OSError:
                return ""
            self._dirty = True
        return self._memo[memo_key]

    def save(self) -> None:
        if not self._dirty:
            return
        atomic_write_text(self.memo_path, json.dumps(self._memo, sort_keys=True))
        self._dirty = False
