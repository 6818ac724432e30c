"""``demo_stvg``: a generated spatio-temporal grounding dataset in the real VidSTG + VidOR formats.

The same shape world as the temporal demo (``pipeline.demo.world``), shorter videos (10-14 s at
``FPS``) with two or three shapes, the second always sharing the kind or the colour of the first
(two circles, two red things). Every event of a shape becomes one VidSTG entry: its window in
frames and the shape's track id as the target, with one declarative sentence ("the red circle
that moves to the left", "the circle that slides leftwards" when another circle is there and
does not) and up to two interrogative ones ("what moves to the left?", "which circle moves to the
left?"), each true of the target alone within the entry's segment, so the words alone (a colour,
a kind) do not find the box. Every shape's box on every frame is in the VidOR trajectories.

Layout (``generate_stvg_demo(out_dir)``)::

    <dir>/{train,val,test}_annotations.json   VidSTG entries (a JSON list), one per event
    <dir>/{train,val,test}_files.json          the video ids of the split (as VidSTG ships them)
    <dir>/video/<group>/<vid>.mp4              the videos (VidOR layout; group = 4 digits)
    <dir>/annotation/training/<group>/<vid>.json    VidOR per-video files of train and val videos
    <dir>/annotation/validation/<group>/<vid>.json  and of test videos (VidSTG's test is VidOR val)

A VidSTG entry: ``vid``, ``fps``, ``frame_count``, ``used_segment {begin_fid, end_fid}`` (both
inclusive: the clip a model sees, the whole video unless the same sentence would fit another
event, then cut short of it), ``width``, ``height``, ``subject/objects [{tid, category}]`` (every
shape of the video; category = circle / square / triangle), ``used_relation {subject_tid,
object_tid, predicate, begin_fid, end_fid}`` (object = subject: an action of one shape; predicate
e.g. ``move_left``, ``turn_blue``), ``temporal_gt {begin_fid, end_fid}`` (end exclusive: the
frames where the event runs and the target is drawn), ``captions`` and ``questions`` (lists of
``{description, type: "object", target_id}``). A VidOR file: ``version``, ``video_id``,
``video_path``, ``frame_count``, ``fps``, ``width``, ``height``, ``subject/objects``,
``trajectories`` (one list per frame of ``{tid, bbox {xmin, ymin, xmax, ymax}, generated: 0,
tracker: "none"}``, a shape listed on the frames where it is drawn; the box holds every pixel of
the shape: ``xmin <= x < xmax``), ``relation_instances`` (every event, end exclusive).

Same seed, same bytes. ``train_annotations.json`` is written last.
"""

from __future__ import annotations

import json
import math
import random
from pathlib import Path
from typing import Any

from groundwork.atomic import atomic_write_text
from pipeline.demo.phrases import Meaning, Referent, argument, declarative_with, questions
from pipeline.demo.shapes import FPS, SIZE
from pipeline.demo.videos import encode_video
from pipeline.demo.world import Event, Script, WorldSpec, make_script, render_with_boxes

STVG_WORLD = WorldSpec(
    durations=(10, 14), shape_counts=(2, 3), lengths=(2.5, 4.0), pauses=(0.5, 3.0), p_visible=0.9, share_attribute=True
)
N_STVG_VIDEOS = (60, 20, 20)  # train, val, test
GROUP_SIZE = 10  # videos per VidOR-style folder


def _frames_of(e: Event, drawn: list[set[int]]) -> tuple[int, int] | None:
    """[begin, end) frames where ``e`` runs and its shape is drawn; None when there are none."""
    first, last = math.ceil(e.start * FPS - 1e-6), min(math.floor(e.end * FPS + 1e-6), len(drawn) - 1)
    frames = [k for k in range(first, last + 1) if e.shape in drawn[k]]
    return (frames[0], frames[-1] + 1) if frames else None


def _segment(script: Script, e: Event, meaning: Meaning) -> tuple[float, float]:
    """Seconds of the clip a model sees: the video, cut short of any other event that
    ``meaning`` fits."""
    start, end = 0.0, float(script.duration)
    for x in script.events:
        if x is not e and meaning.fits(script, x):
            if x.end <= e.start:
                start = max(start, x.end)
            elif x.start >= e.end:
                end = min(end, x.start)
    return start, end


def _caption(script: Script, e: Event, segment: tuple[float, float], rng: random.Random) -> str:
    """A declarative sentence true of ``e`` alone in ``segment``, preferring a referent that
    another shape there shares (the action then tells them apart)."""
    s = e.subject
    inside = [x for x in script.events if x.start < segment[1] and x.end > segment[0]]
    options = []
    for r in (Referent(kind=s.kind), Referent(colour=s.colour)):
        shared = any(
            j != e.shape and any(x.visible and r.matches(x, None) for x in script.states_during(j, *segment))
            for j in range(len(script.initial))
        )
        if shared and [x for x in inside if Meaning(r, e.action, argument(e)).fits(script, x)] == [e]:
            options.append(r)
    r = rng.choice(options) if options and rng.random() < 0.7 else Referent(s.colour, s.kind)
    return declarative_with(r, e, rng)


def entries(script: Script, drawn: list[set[int]], rng: random.Random) -> list[dict[str, Any]]:
    """The VidSTG entries of a video, one per event (events whose shape is never drawn in their
    window, or whose sentence fits another event at the same time, are left out)."""
    objects = [{"tid": i, "category": s.kind} for i, s in enumerate(script.initial)]
    n = script.n_frames
    out = []
    for e in script.events:
        gt = _frames_of(e, drawn)
        meaning = Meaning(Referent(e.subject.colour, e.subject.kind), e.action, argument(e))
        segment = _segment(script, e, meaning)
        if gt is None or not segment[0] <= e.start < e.end <= segment[1]:
            continue
        last = n - 1 if segment[1] >= script.duration else math.ceil(segment[1] * FPS - 1e-6) - 1
        seg = (math.ceil(segment[0] * FPS - 1e-6), min(n - 1, last))
        predicate = f"turn_{e.after.colour}" if e.action == "turn" else e.action
        out.append(
            {
                "vid": script.video_id,
                "fps": FPS,
                "frame_count": n,
                "used_segment": {"begin_fid": seg[0], "end_fid": seg[1]},
                "width": SIZE,
                "height": SIZE,
                "subject/objects": objects,
                "used_relation": {
                    "subject_tid": e.shape,
                    "object_tid": e.shape,
                    "predicate": predicate,
                    "begin_fid": gt[0],
                    "end_fid": gt[1],
                },
                "temporal_gt": {"begin_fid": gt[0], "end_fid": gt[1]},
                "captions": [
                    {"description": _caption(script, e, segment, rng), "type": "object", "target_id": e.shape}
                ],
                "questions": [
                    {"description": q, "type": "object", "target_id": e.shape}
                    for q in questions(script, e, segment, rng)
                ],
            }
        )
    return out


def write_stvg_video(script: Script, video: Path, annotation: Path, video_path: str) -> list[set[int]]:
    """Encode the video and write its VidOR file; returns the shapes drawn on each frame."""
    frames, trajectories, drawn = [], [], []
    for k in range(script.n_frames):
        image, boxes = render_with_boxes(script, k)
        frames.append(image)
        drawn.append(set(boxes))
        trajectories.append(
            [
                {
                    "tid": i,
                    "bbox": {"xmin": b[0], "ymin": b[1], "xmax": b[2], "ymax": b[3]},
                    "generated": 0,
                    "tracker": "none",
                }
                for i, b in sorted(boxes.items())
            ]
        )
    encode_video(video, frames)
    relations = []
    for e in script.events:
        gt = _frames_of(e, drawn)
        if gt is not None:
            predicate = f"turn_{e.after.colour}" if e.action == "turn" else e.action
            relations.append(
                {
                    "subject_tid": e.shape,
                    "object_tid": e.shape,
                    "predicate": predicate,
                    "begin_fid": gt[0],
                    "end_fid": gt[1],
                }
            )
    vidor = {
        "version": "VERSION 1.0",
        "video_id": script.video_id,
        "video_path": video_path,
        "frame_count": script.n_frames,
        "fps": FPS,
        "width": SIZE,
        "height": SIZE,
        "subject/objects": [{"tid": i, "category": s.kind} for i, s in enumerate(script.initial)],
        "trajectories": trajectories,
        "relation_instances": relations,
    }
    annotation.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_text(annotation, json.dumps(vidor))
    return drawn


def generate_stvg_demo(out_dir: Path, seed: int = 0, n_videos: tuple[int, int, int] = N_STVG_VIDEOS) -> Path:
    """Write the spatio-temporal demo (layout in the module doc) with ``n_videos`` (train, val,
    test) videos into ``out_dir``."""
    if len(n_videos) != 3 or min(n_videos) < 1:
        msg = f"generate_stvg_demo: n_videos must be three positive counts (train, val, test), got {n_videos}"
        raise ValueError(msg)
    out_dir = Path(out_dir)
    rng = random.Random(seed)
    scripts = [make_script(f"stvg_{i:03d}", rng, STVG_WORLD) for i in range(sum(n_videos))]
    bounds = {
        "train": (0, n_videos[0]),
        "val": (n_videos[0], n_videos[0] + n_videos[1]),
        "test": (n_videos[0] + n_videos[1], sum(n_videos)),
    }
    written: dict[str, list[dict[str, Any]]] = {}
    for split, (lo, hi) in bounds.items():
        written[split] = []
        partition = "validation" if split == "test" else "training"
        for i in range(lo, hi):
            script, group = scripts[i], f"{i // GROUP_SIZE:04d}"
            drawn = write_stvg_video(
                script,
                out_dir / "video" / group / f"{script.video_id}.mp4",
                out_dir / "annotation" / partition / group / f"{script.video_id}.json",
                f"{group}/{script.video_id}.mp4",
            )
            written[split] += entries(script, drawn, random.Random(f"stvg-phrases:{seed}:{script.video_id}"))
    for split in ("val", "test", "train"):
        lo, hi = bounds[split]
        atomic_write_text(out_dir / f"{split}_files.json", json.dumps([s.video_id for s in scripts[lo:hi]]))
        atomic_write_text(out_dir / f"{split}_annotations.json", json.dumps(written[split]))
    return out_dir
