"""What ``priors run`` adds for spatio-temporal grounding (STVG) datasets, i.e. annotations whose
queries carry the STVG block (``groundwork.stvg``):

- ``patch_pass``: per-frame patch grids (``pipeline.features.patches``) on the evaluation frame
  grid, through the graph's ``decode -> visual -> write_patches`` stages, one request per video
  whose frame times are ``fid / fps`` for the union of its queries' grids. Content-addressed
  like the other visual features: the folder ``<cache>/visual/<encoder>-patch<grid>-<hash>``
  hashes the encoder spec (weights, grid, resize) and the sampler; a video is encoded again only
  when its file is missing or lacks a frame id now wanted, so a warm rerun makes no model call.
- ``write_tubes``: the tube table beside the manifest (``groundwork.stvg.tubes_path``), the GT
  boxes of ``Annotations.tubes``; an old table is removed when the annotations have none.

``run_priors`` calls both when a visual encoder is given (patches) and always (tubes)."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from functools import partial
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from groundwork.atomic import atomic_write
from groundwork.cache.hashing import cache_key
from groundwork.cache.store import CacheStore
from groundwork.stvg import TUBE_SCHEMA, StvgQuery, tubes_path
from pipeline.datasets.base import Annotations
from pipeline.features.patches import PatchEncoder, read_frame_ids, write_patch_features
from pipeline.stages.base import Batch, Resources
from pipeline.stages.decode import DecodeStage
from pipeline.stages.patches import WritePatchStage
from pipeline.stages.visual import VisualFeatureStage

Stream = Callable[[list[dict], list], Iterator[Batch]]


def frame_ids_by_video(ann: Annotations) -> dict[str, tuple[list[int], float]]:
    """``{video_id: (sorted union of its STVG queries' grid frames, fps)}``; videos without an STVG
    query are left out."""
    out: dict[str, tuple[set[int], float]] = {}
    for q in ann.queries:
        block = StvgQuery.from_extra(q.extra)
        if block is not None:
            frames, _ = out.setdefault(q.video_id, (set(), block.fps))
            frames.update(block.grid())
    return {vid: (sorted(frames), fps) for vid, (frames, fps) in out.items()}


def patch_set_name(encoder: PatchEncoder, sampler_spec: dict[str, Any]) -> str:
    spec = {"encoder": encoder.spec(), "sampler": sampler_spec, "frames": "groundwork.stvg.StvgQuery.grid"}
    return f"{encoder.name}-patch{encoder.grid}-{cache_key(spec)[:12]}"


def patch_requests(rows: list[dict], frames: dict[str, tuple[list[int], float]], folder: Path) -> list[dict]:
    """The graph's video rows that still need patches, each with its one request."""
    todo = []
    for r in rows:
        wanted = frames.get(r["video_id"])
        if wanted is None:
            continue
        have = read_frame_ids(folder / f"{r['video_id']}.npz")
        if have is not None and set(wanted[0]) <= set(have.tolist()):
            continue
        fids, fps = wanted
        req = {
            "kind": "patches",
            "key": r["video_id"],
            "query_id": "",
            "t_start": 0.0,
            "t_end": r["duration"],
            "frame_times": [round(f / fps, 6) for f in fids],
            "prompt_vars": {"frame_ids": fids},
        }
        todo.append({**r, "requests": json.dumps([req])})
    return todo


def patch_pass(
    config: Any,
    ann: Annotations,
    rows: list[dict],
    sampler: Any,
    store: CacheStore,
    report: Any,
    stream: Stream,
    gpus: float = 0.0,
    model_path: str | None = None,
) -> str:
    """Patch grids of every STVG video (see the module doc); returns the feature set's name
    (relative to ``<cache>/visual``), or "" when no query has an STVG block."""
    frames = frame_ids_by_video(ann)
    if not frames:
        return ""
    model = model_path or str(config.visual_encoder)
    encoder = PatchEncoder(config.visual_encoder, device=config.device)
    name = patch_set_name(encoder, sampler.spec())
    folder = store.visual_dir(name)
    todo = patch_requests(rows, frames, folder)
    if todo:
        stages = [
            DecodeStage(sampler, Resources(cpus=0.5, batch_size=1)),
            VisualFeatureStage(
                partial(PatchEncoder, model, config.device), Resources(cpus=1.0, gpus=gpus, batch_size=1)
            ),
            WritePatchStage(folder, write_patch_features, Resources(cpus=0.25, batch_size=4)),
        ]
        for batch in stream(todo, stages):
            report.patch_videos += int(sum(bool(w) for w in batch["written"]))
            report.add_times(batch)
    return name


def write_tubes(manifest: Path, ann: Annotations) -> Path | None:
    """The tube table beside ``manifest`` (rows by video, target, frame); None (and no file)
    when the annotations hold no boxes."""
    path = tubes_path(manifest)
    videos = {q.video_id for q in ann.queries}  # the run's selected videos (priors run --limit / --splits)
    tubes = {k: v for k, v in ann.tubes.items() if k[0] in videos}
    if not tubes:
        path.unlink(missing_ok=True)
        return None
    cols: dict[str, list] = {f.name: [] for f in TUBE_SCHEMA}
    for (vid, target), boxes in sorted(tubes.items()):
        for fid, box in sorted(boxes.items()):
            for name, value in zip(
                ("video_id", "target_id", "fid", "x1", "y1", "x2", "y2"), (vid, target, fid, *box), strict=True
            ):
                cols[name].append(value)
    table = pa.table(cols, schema=TUBE_SCHEMA)
    return atomic_write(path, lambda tmp: pq.write_table(table, tmp))
