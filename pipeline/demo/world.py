"""The demo world: what happens in a generated video (a ``Script``), and its frames and boxes.

A video has one to three shapes (circle, square, triangle in red, green, blue or yellow), each
in its own row. A shape does one thing at a time, each lasting 3-5 s and changing gradually in
every frame of its window: it appears (grows in from nothing), disappears (shrinks out), moves
one slot left or right, turns another colour, grows (small to big) or shrinks (big to small).
Shapes act on their own timelines, so events of different shapes overlap. No two shapes ever
have the same colour and kind at once (the full description always names one shape), but two
circles or two red things are common: distractors that share an attribute.

Same ``random.Random`` state, same script. Frames are a pure function of the script and the
frame index."""

from __future__ import annotations

import random
from dataclasses import dataclass, replace

import numpy as np

from pipeline.demo.shapes import COLOURS, FPS, KINDS, ROWS, SHAPE, SLOTS, SMALL, blank, shape_mask, to_uint8

ACTIONS = ("appear", "disappear", "move_left", "move_right", "turn", "grow", "shrink")
WEIGHTS = {
    "appear": 1.0,
    "disappear": 1.0,
    "move_left": 3.0,
    "move_right": 3.0,
    "turn": 2.0,
    "grow": 1.5,
    "shrink": 1.5,
}  # turn's weight is shared by its colours


@dataclass(frozen=True)
class ShapeState:
    kind: str
    colour: str
    slot: int
    visible: bool
    big: bool = True

    @property
    def scale(self) -> float:
        """Drawn side as a fraction of SHAPE (0 when hidden)."""
        return float(self.visible) * (1.0 if self.big else SMALL)


@dataclass(frozen=True)
class Event:
    shape: int
    action: str  # one of ACTIONS
    start: float
    end: float
    before: ShapeState
    after: ShapeState

    @property
    def subject(self) -> ShapeState:
        """The state a sentence describes the shape by: where and what it is when the event
        starts (for ``appear``: what it becomes)."""
        return self.after if self.action == "appear" else self.before


@dataclass(frozen=True)
class Script:
    video_id: str
    duration: int  # seconds
    initial: tuple[ShapeState, ...]
    events: tuple[Event, ...]  # by start time

    @property
    def n_frames(self) -> int:
        return self.duration * FPS

    def states_during(self, i: int, start: float, end: float) -> list[ShapeState]:
        """Every discrete state shape ``i`` is in at some moment of [start, end]."""
        states, current = [], self.initial[i]
        for e in (e for e in self.events if e.shape == i):
            if e.end <= start:
                current = e.after
            elif e.start < end:
                states += [e.before, e.after]
        return states or [current]


@dataclass(frozen=True)
class WorldSpec:
    """How videos are drawn: durations, how many shapes, pauses between a shape's events."""

    durations: tuple[int, int] = (18, 28)
    shape_counts: tuple[int, ...] = (1, 2, 2, 3, 3)  # drawn uniformly
    lengths: tuple[float, float] = (3.0, 5.0)  # event length, s
    pauses: tuple[float, float] = (1.0, 5.0)  # between two events of one shape, s
    p_visible: float = 0.75  # a shape is there at the start
    share_attribute: bool = False  # shape 1 always shares the kind or the colour of shape 0


def _initial(n: int, spec: WorldSpec, rng: random.Random) -> list[ShapeState]:
    pairs: list[tuple[str, str]] = []
    while len(pairs) < n:
        kind, colour = rng.choice(KINDS), rng.choice(list(COLOURS))
        if spec.share_attribute and len(pairs) == 1 and kind != pairs[0][0] and colour != pairs[0][1]:
            kind, colour = (pairs[0][0], colour) if rng.random() < 0.5 else (kind, pairs[0][1])
        if (kind, colour) not in pairs:
            pairs.append((kind, colour))
    return [
        ShapeState(k, c, rng.randrange(len(SLOTS)), rng.random() < spec.p_visible, rng.random() < 0.8) for k, c in pairs
    ]


def _options(s: ShapeState, taken: set[tuple[str, str]]) -> list[tuple[str, ShapeState, float]]:
    """Every (action, state after, weight) shape state ``s`` can take; ``taken``: the (kind,
    colour) pairs the other shapes have now or are heading to."""
    if not s.visible:
        return [("appear", replace(s, visible=True, slot=slot), 1.0) for slot in range(len(SLOTS))]
    out = [("disappear", replace(s, visible=False), WEIGHTS["disappear"])]
    colours = [c for c in COLOURS if c != s.colour and (s.kind, c) not in taken]
    out += [("turn", replace(s, colour=c), WEIGHTS["turn"] / len(colours)) for c in colours]
    if s.slot > 0:
        out.append(("move_left", replace(s, slot=s.slot - 1), WEIGHTS["move_left"]))
    if s.slot < len(SLOTS) - 1:
        out.append(("move_right", replace(s, slot=s.slot + 1), WEIGHTS["move_right"]))
    out.append(
        ("shrink", replace(s, big=False), WEIGHTS["shrink"])
        if s.big
        else ("grow", replace(s, big=True), WEIGHTS["grow"])
    )
    return out


def make_script(video_id: str, rng: random.Random, spec: WorldSpec = WorldSpec()) -> Script:
    """Draw a video: its shapes, then events in start order, each shape free again a pause after
    its last event ends, until no event fits before the last half second."""
    duration = rng.randint(*spec.durations)
    shapes = _initial(rng.choice(spec.shape_counts), spec, rng)
    initial, n = tuple(shapes), len(shapes)
    free = [round(rng.uniform(0.5, 3.0), 1) for _ in range(n)]
    last: list[Event | None] = [None] * n
    events: list[Event] = []
    while any(f is not None for f in free):
        i = min((k for k in range(n) if free[k] is not None), key=lambda k: (free[k], k))
        t, length = free[i], round(rng.uniform(*spec.lengths), 1)
        if t + length > duration - 0.5:
            free[i] = None
            continue
        taken = {(shapes[j].kind, shapes[j].colour) for j in range(n) if j != i}
        taken |= {(e.before.kind, e.before.colour) for j, e in enumerate(last) if j != i and e and e.end > t}
        options = _options(shapes[i], taken)
        action, after, _ = rng.choices(options, weights=[w for *_, w in options])[0]
        event = Event(i, action, t, round(t + length, 1), shapes[i], after)
        events.append(event)
        shapes[i], last[i] = after, event
        free[i] = round(event.end + rng.uniform(*spec.pauses), 1)
    return Script(video_id, duration, initial, tuple(sorted(events, key=lambda e: (e.start, e.shape))))


def shape_at(script: Script, i: int, t: float) -> tuple[float, float, np.ndarray, float]:
    """(x centre, y centre, colour rgb, side px) of shape ``i`` at time ``t``: the last of its
    events that has started decides, interpolated through its window."""
    y = ROWS[len(script.initial)][i]
    started = [e for e in script.events if e.shape == i and e.start <= t]
    if not started:
        s = script.initial[i]
        return SLOTS[s.slot], y, np.array(COLOURS[s.colour], np.float32), SHAPE * s.scale
    e = started[-1]
    p = min(1.0, (t - e.start) / (e.end - e.start))
    b, a = e.before, e.after
    x = (1 - p) * SLOTS[b.slot] + p * SLOTS[a.slot] if e.action.startswith("move") else SLOTS[a.slot]
    rgb = (1 - p) * np.array(COLOURS[b.colour], np.float32) + p * np.array(COLOURS[a.colour], np.float32)
    return x, y, rgb, SHAPE * ((1 - p) * b.scale + p * a.scale)


def layers(script: Script, frame_index: int) -> list[tuple[int, np.ndarray, np.ndarray]]:
    """(shape index, mask, rgb) of every shape drawn on frame ``frame_index`` (at
    ``frame_index / FPS`` s); a shape under 1 px wide is not drawn."""
    t = frame_index / FPS
    out = []
    for i in range(len(script.initial)):
        x, y, rgb, side = shape_at(script, i, t)
        if side >= 1.0:
            mask = shape_mask(script.initial[i].kind, x, y, side)
            if mask.any():
                out.append((i, mask, rgb))
    return out


_CANVAS = to_uint8(blank())


def render(script: Script, frame_index: int) -> np.ndarray:
    """Frame ``frame_index`` as (SIZE, SIZE, 3) uint8."""
    image = _CANVAS.copy()
    for _, mask, rgb in layers(script, frame_index):
        image[mask] = to_uint8(rgb)
    return image


def box_of(mask: np.ndarray) -> tuple[int, int, int, int]:
    """(xmin, ymin, xmax, ymax) in pixel edges: the pixels ``xmin <= x < xmax`` (same for y)
    hold every pixel of the mask."""
    ys, xs = np.nonzero(mask.any(1))[0], np.nonzero(mask.any(0))[0]
    return int(xs[0]), int(ys[0]), int(xs[-1]) + 1, int(ys[-1]) + 1


def render_with_boxes(script: Script, frame_index: int) -> tuple[np.ndarray, dict[int, tuple[int, int, int, int]]]:
    """The frame and the box of every shape drawn on it (by shape index)."""
    image, boxes = _CANVAS.copy(), {}
    for i, mask, rgb in layers(script, frame_index):
        image[mask] = to_uint8(rgb)
        boxes[i] = box_of(mask)
    return image, boxes
