"""``demo``: a generated temporal-grounding dataset, and the pipeline's test fixture.

Coloured shapes on a dark background do scripted things at known times (``pipeline.demo.world``:
one to three shapes, each in its own row, appearing, disappearing, moving, turning another
colour, growing or shrinking, 3-5 s each, shapes acting at the same time). Every event becomes a
query with its true window; the sentence is a paraphrase drawn from the seed
(``pipeline.demo.phrases``: several wordings per event, "the red circle moves to the left" / "a
scarlet disc slides leftwards" / "the circle on the right goes left", each one still naming only
its own windows). A sentence that fits twice in a video is one query with two windows.

The default size (``N_VIDEOS``: 80 train / 10 val / 20 test videos) gives 475 / 55 / 120 queries
(seed 0): a test split of over 100 queries, val over 50 and train about 4x test, so figures
measured on it do not move by 10 points between builds. ``make demo`` asks for three wordings of
each training query (``train_wordings``): 1,423 training queries from the same 80 videos.

Same seed, same output: the JSONL files are byte-identical and the decoded frames identical.
The layout is the ``folder`` format: ``<dir>/{train,val,test}.jsonl`` and ``<dir>/videos/*.mp4``.
"""

from __future__ import annotations

import json
import random
from collections.abc import Iterable
from pathlib import Path

import numpy as np

from groundwork.atomic import atomic_write, atomic_write_text
from pipeline.demo.phrases import queries
from pipeline.demo.shapes import BACKGROUND, COLOURS, FPS, SIZE, shape_mask
from pipeline.demo.world import Script, WorldSpec, make_script, render

N_VIDEOS = 110  # 80 train / 10 val / 20 test videos

__all__ = [
    "BACKGROUND",
    "COLOURS",
    "FPS",
    "N_VIDEOS",
    "SIZE",
    "encode_video",
    "generate_demo",
    "make_script",
    "queries",
    "render",
    "shape_mask",
    "split_scripts",
    "write_video",
]


def encode_video(path: Path, frames: Iterable[np.ndarray]) -> None:
    """Write (SIZE, SIZE, 3) uint8 frames as an H.264 MP4 at FPS (atomically; one encoder
    thread, so the same frames give the same bytes on every machine)."""
    atomic_write(path, lambda tmp: _encode(tmp, frames))


def _encode(tmp: Path, frames: Iterable[np.ndarray]) -> None:
    import av

    codec = "libx264" if "libx264" in av.codecs_available else "mpeg4"
    with av.open(str(tmp), "w", format="mp4") as container:
        stream = container.add_stream(codec, rate=FPS, options={"crf": "20"} if codec == "libx264" else {})
        stream.width, stream.height, stream.pix_fmt = SIZE, SIZE, "yuv420p"
        stream.codec_context.thread_count = 1
        for k, image in enumerate(frames):
            frame = av.VideoFrame.from_ndarray(image, format="rgb24")
            frame.pts = k
            container.mux(stream.encode(frame))
        container.mux(stream.encode())


def write_video(script: Script, path: Path) -> None:
    encode_video(path, (render(script, k) for k in range(script.n_frames)))


def split_scripts(scripts: list[Script]) -> dict[str, list[Script]]:
    """train / val / test about 8:1:2 (train 4x test; val, for model selection, half of test),
    held-out videos last; at least one video each."""
    n = len(scripts)
    n_test, n_val = max(1, round(n * 2 / 11)), max(1, round(n / 11))
    return {
        "train": scripts[: n - n_test - n_val],
        "val": scripts[n - n_test - n_val : n - n_test],
        "test": scripts[n - n_test :],
    }


def generate_demo(
    out_dir: Path, seed: int = 0, n_videos: int = N_VIDEOS, train_videos: int | None = None, train_wordings: int = 1
) -> Path:
    """Write ``videos/demo_NNN.mp4`` and ``{train,val,test}.jsonl`` (about 8:1:2) into ``out_dir``;
    ``train.jsonl`` is written last, so its presence means the dataset is complete.

    ``train_videos``: that many training videos instead (``DEMO_TRAIN_VIDEOS`` of the Makefile).
    The extra ones are drawn after the ``n_videos`` and their queries numbered after theirs, so
    every line of the default size stays byte-identical; fewer keeps the first ones and leaves the
    others' lines out (the ids of the rest do not move).

    ``train_wordings``: up to that many wordings of each training query (``DEMO_WORDINGS`` of the
    Makefile, 3 for ``make demo``), as datasets with several annotators have: wording ``k`` is drawn
    from its own seed (``demo-phrases:<seed>:<video>:wording<k>``) by the same rules, and a
    sentence the video already has is dropped. They are appended to ``train.jsonl`` with ids after
    every other query, so the lines of one wording stay byte-identical. Val and test keep one
    wording: a query set asks each thing once."""
    if n_videos < 3:
        msg = f"generate_demo: n_videos must be >= 3 (one video per split), got {n_videos}"
        raise ValueError(msg)
    if train_videos is not None and train_videos < 1:
        msg = f"generate_demo: train_videos must be >= 1, got {train_videos}"
        raise ValueError(msg)
    if train_wordings < 1:
        msg = f"generate_demo: train_wordings must be >= 1, got {train_wordings}"
        raise ValueError(msg)
    out_dir = Path(out_dir)
    (out_dir / "videos").mkdir(parents=True, exist_ok=True)
    rng = random.Random(seed)
    scripts = [make_script(f"demo_{i:03d}", rng, WorldSpec()) for i in range(n_videos)]
    splits = split_scripts(scripts)
    n_train = len(splits["train"]) if train_videos is None else train_videos
    more = range(n_videos, n_videos + max(0, n_train - len(splits["train"])))
    extra = [make_script(f"demo_{i:03d}", rng, WorldSpec()) for i in more]
    kept = {s.video_id for s in [*splits["train"][:n_train], *extra, *splits["val"], *splits["test"]]}
    qid = 0
    lines: dict[str, list[str]] = {}
    said: dict[str, set[str]] = {}  # each video's sentences, so another wording never repeats one
    for split, chosen in [*splits.items(), ("train", extra)]:
        lines.setdefault(split, [])
        for script in chosen:
            wording = random.Random(f"demo-phrases:{seed}:{script.video_id}")
            for sentence, windows in queries(script, wording):  # a left-out video's queries keep their ids
                said.setdefault(script.video_id, set()).add(sentence)
                row = {"qid": qid, "query": sentence, "vid": script.video_id, "duration": float(script.duration)}
                if script.video_id in kept:
                    lines[split].append(json.dumps({**row, "relevant_windows": windows}))
                qid += 1
            if script.video_id in kept:
                write_video(script, out_dir / "videos" / f"{script.video_id}.mp4")
    training = [s for s in [*splits["train"], *extra] if s.video_id in kept]
    for k in range(1, train_wordings):
        for script in training:
            wording = random.Random(f"demo-phrases:{seed}:{script.video_id}:wording{k}")
            for sentence, windows in queries(script, wording):
                if sentence in said[script.video_id]:
                    continue
                said[script.video_id].add(sentence)
                row = {"qid": qid, "query": sentence, "vid": script.video_id, "duration": float(script.duration)}
                lines["train"].append(json.dumps({**row, "relevant_windows": windows}))
                qid += 1
    for split in ("val", "test", "train"):
        atomic_write_text(out_dir / f"{split}.jsonl", "".join(line + "\n" for line in lines[split]))
    return out_dir
