"""``demo``: a tiny generated grounding dataset, and the pipeline's test fixture.

Big coloured shapes (circle, square, triangle) on a plain dark background do scripted things at
known times: appear (grow in), disappear (shrink out), move left or right, turn another colour.
Every event lasts 3-5 s, is a gradual change visible in every frame of its window, and becomes a
query with its true window ("the red circle moves to the left"); a video has several events at
different times, so a constant window is a weak baseline. A sentence that happens twice in a
video is one query with two windows.

Same seed, same output: the JSONL files are byte-identical and the decoded frames identical.
The layout is the ``folder`` format: ``<dir>/{train,val,test}.jsonl`` and ``<dir>/videos/*.mp4``.
"""

from __future__ import annotations

import json
import random
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from groundwork.atomic import atomic_write, atomic_write_text


SIZE, FPS, SHAPE = 128, 10, 44  # frame side (px), frame rate, full shape side (px)
BACKGROUND = np.array([32, 32, 32], np.float32)
COLOURS = {"red": (230, 30, 30), "green": (30, 200, 40), "blue": (40, 70, 235), "yellow": (240, 220, 30)}
KINDS = ("circle", "square", "triangle")
SLOTS = (26, 64, 102)  # x centres: left, centre, right
ROWS = {1: (64,), 2: (36, 92)}  # y centres of the shapes, by how many a video has
SLOT_PHRASES = ("on the left", "in the middle", "on the right")


@dataclass(frozen=True)
class ShapeState:
    kind: str
    colour: str
    slot: int
    visible: bool


@dataclass(frozen=True)
class Event:
    shape: int
    action: str  # appear, disappear, move_left, move_right, turn
    start: float
    end: float
    before: ShapeState
    after: ShapeState

    def sentence(self) -> str:
        b, a = self.before, self.after
        return {
            "appear": f"a {a.colour} {a.kind} appears {SLOT_PHRASES[a.slot]}",
            "disappear": f"the {b.colour} {b.kind} disappears",
            "move_left": f"the {b.colour} {b.kind} moves to the left",
            "move_right": f"the {b.colour} {b.kind} moves to the right",
            "turn": f"the {b.colour} {b.kind} turns {a.colour}",
        }[self.action]


@dataclass(frozen=True)
class Script:
    video_id: str
    duration: int  # seconds
    initial: tuple[ShapeState, ...]
    events: tuple[Event, ...]


def _next_states(shapes: list[ShapeState], i: int, rng: random.Random) -> list[tuple[str, ShapeState]]:
    """Every action shape ``i`` can take now, with the state it leaves the shape in."""
    s = shapes[i]
    if not s.visible:
        return [("appear", replace(s, visible=True, slot=rng.randrange(len(SLOTS))))]
    taken = {o.colour for j, o in enumerate(shapes) if j != i}
    options = [("disappear", replace(s, visible=False))]
    options += [("turn", replace(s, colour=c)) for c in COLOURS if c != s.colour and c not in taken]
    if s.slot > 0:
        options.append(("move_left", replace(s, slot=s.slot - 1)))
    if s.slot < len(SLOTS) - 1:
        options.append(("move_right", replace(s, slot=s.slot + 1)))
    return options


def make_script(video_id: str, rng: random.Random) -> Script:
    duration = rng.randint(16, 30)
    n_shapes = rng.choice((1, 2))
    kinds, colours = rng.sample(KINDS, n_shapes), rng.sample(list(COLOURS), n_shapes)
    shapes = [ShapeState(k, c, rng.randrange(len(SLOTS)), rng.random() < 0.6) for k, c in zip(kinds, colours)]
    initial, events, t = tuple(shapes), [], round(rng.uniform(0.5, 3.0), 1)
    while True:
        length = round(rng.uniform(3.0, 5.0), 1)
        if t + length > duration - 0.5:
            break
        i = rng.randrange(n_shapes)
        action, after = rng.choice(_next_states(shapes, i, rng))
        events.append(Event(i, action, t, round(t + length, 1), shapes[i], after))
        shapes[i] = after
        t = round(t + length + rng.uniform(0.5, 2.0), 1)
    return Script(video_id, duration, initial, tuple(events))


def _shape_at(script: Script, i: int, t: float) -> tuple[float, np.ndarray, float]:
    """(x centre, colour rgb, scale 0..1) of shape ``i`` at time ``t``: the last event that has
    started decides it, interpolated through its window."""
    started = [e for e in script.events if e.shape == i and e.start <= t]
    if not started:
        s = script.initial[i]
        return SLOTS[s.slot], np.array(COLOURS[s.colour], np.float32), float(s.visible)
    e = started[-1]
    p = min(1.0, (t - e.start) / (e.end - e.start))
    b, a = e.before, e.after
    x = (1 - p) * SLOTS[b.slot] + p * SLOTS[a.slot] if e.action.startswith("move") else SLOTS[a.slot]
    rgb = (1 - p) * np.array(COLOURS[b.colour], np.float32) + p * np.array(COLOURS[a.colour], np.float32)
    scale = (1 - p) * float(b.visible) + p * float(a.visible)
    return x, rgb, scale


_YY, _XX = np.mgrid[0:SIZE, 0:SIZE].astype(np.float32) + 0.5


def shape_mask(kind: str, cx: float, cy: float, side: float) -> np.ndarray:
    """Pixels (SIZE, SIZE) bool covered by a shape of width ``side`` centred at (cx, cy)."""
    dx, dy, h = _XX - cx, _YY - cy, side / 2
    if kind == "circle":
        return dx * dx + dy * dy <= h * h
    if kind == "square":
        return (np.abs(dx) <= h) & (np.abs(dy) <= h)
    return (dy <= h) & (dy >= -h + 2 * np.abs(dx))  # triangle, apex up


def render(script: Script, frame_index: int) -> np.ndarray:
    """Frame ``frame_index`` (at ``frame_index / FPS`` s) as (SIZE, SIZE, 3) uint8."""
    t = frame_index / FPS
    image = np.broadcast_to(BACKGROUND, (SIZE, SIZE, 3)).copy()
    for i, state in enumerate(script.initial):
        x, rgb, scale = _shape_at(script, i, t)
        if scale > 0.02:
            image[shape_mask(state.kind, x, ROWS[len(script.initial)][i], SHAPE * scale)] = rgb
    return image.round().astype(np.uint8)


def write_video(script: Script, path: Path) -> None:
    atomic_write(path, lambda tmp: _encode_video(script, tmp))


def _encode_video(script: Script, tmp: Path) -> None:
    import av

    codec = "libx264" if "libx264" in av.codecs_available else "mpeg4"
    with av.open(str(tmp), "w", format="mp4") as container:
        stream = container.add_stream(codec, rate=FPS, options={"crf": "20"} if codec == "libx264" else {})
        stream.width, stream.height, stream.pix_fmt = SIZE, SIZE, "yuv420p"
        stream.codec_context.thread_count = 1  # one thread: same bytes on every machine
        for k in range(script.duration * FPS):
            frame = av.VideoFrame.from_ndarray(render(script, k), format="rgb24")
            frame.pts = k
            container.mux(stream.encode(frame))
        container.mux(stream.encode())


def queries(script: Script) -> list[tuple[str, list[list[float]]]]:
    """(sentence, windows) in order of first occurrence; repeated sentences share a query."""
    merged: dict[str, list[list[float]]] = {}
    for e in script.events:
        merged.setdefault(e.sentence(), []).append([e.start, e.end])
    return list(merged.items())


def generate_demo(out_dir: Path, seed: int = 0, n_videos: int = 36) -> Path:
    """Write ``videos/demo_NNN.mp4`` and ``{train,val,test}.jsonl`` (about 4:1:1) into ``out_dir``.
    ``train.jsonl`` is written last, so its presence means the dataset is complete."""
    if n_videos < 3:
        msg = f"generate_demo: n_videos must be >= 3 (one video per split), got {n_videos}"
        raise ValueError(msg)
    out_dir = Path(out_dir)
    (out_dir / "videos").mkdir(parents=True, exist_ok=True)
    rng = random.Random(seed)
    scripts = [make_script(f"demo_{i:03d}", rng) for i in range(n_videos)]
    n_held = max(1, n_videos // 6)
    splits = {"test": scripts[-n_held:], "val": scripts[-2 * n_held : -n_held], "train": scripts[: -2 * n_held]}
    qid = 0
    lines: dict[str, list[str]] = {}
    for split in ("train", "val", "test"):
        lines[split] = []
        for script in splits[split]:
            write_video(script, out_dir / "videos" / f"{script.video_id}.mp4")
            for sentence, windows in queries(script):
                row = {"qid": qid, "query": sentence, "vid": script.video_id, "duration": float(script.duration)}
                lines[split].append(json.dumps({**row, "relevant_windows": windows}))
                qid += 1
    for split in ("val", "test", "train"):
        atomic_write_text(out_dir / f"{split}.jsonl", "".join(line + "\n" for line in lines[split]))
    return out_dir
