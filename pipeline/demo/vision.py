"""Classical computer vision for the demo's frames: what the pixel-reading narrator sees.

``detect(frame)`` finds the shapes of one frame: pixels far from the background colour are
foreground, ``scipy.ndimage.label`` splits them into connected components, and each component
gets a colour (the nearest palette colour, or a blend of two while it is turning), a kind (how
much of its bounding box it fills: a square fills it, a circle about pi/4, an apex-up triangle
about half), a place (left / middle / right or between two, top / bottom when off-centre) and a
size (big, small, tiny). ``track`` links the shapes of several frames (a shape keeps its height
and moves little between frames), and ``changes`` / ``events`` read what happened between
frames: moved left or right, grew or shrank, appeared or disappeared, changed colour.

Nothing here reads a script or an annotation: only pixels and frame times. Positions and sizes
are fractions of the frame, so a resized frame reads the same."""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np
from scipy import ndimage

from pipeline.demo.shapes import BACKGROUND, COLOURS, SHAPE, SIZE, SLOT_NAMES, SLOTS

PALETTE = {name: np.array(rgb, np.float32) for name, rgb in COLOURS.items()}
FOREGROUND = 60.0  # L1 distance from the background colour that makes a pixel foreground
MIN_AREA = 12 / SIZE**2  # smaller components (codec specks) are ignored, as a fraction of the frame
SLOT_X = tuple(x / SIZE for x in SLOTS)
FULL = SHAPE / SIZE  # side of a big shape, as a fraction of the frame
MOVED, GREW, TURNED = 0.05, 1.1, 40.0  # x shift (frame fraction), side ratio, rgb distance


@dataclass(frozen=True)
class Blob:
    """One shape on one frame."""

    colour: str  # nearest palette colour
    rgb: tuple[float, float, float]  # mean colour of its inner pixels
    blend: tuple[str, str] | None  # the two palette colours it lies between (while turning), else None
    kind: str  # circle / square / triangle, or "shape" when too small to tell
    x: float  # bounding-box centre, fraction of the width
    y: float  # of the height
    side: float  # longer bounding-box side, fraction of the width
    box: tuple[int, int, int, int]  # xmin, ymin, xmax, ymax (pixel edges)

    @property
    def size(self) -> str:
        ratio = self.side / FULL
        return "big" if ratio >= 0.8 else "small" if ratio >= 0.4 else "tiny"

    @property
    def slot(self) -> str:
        """left / middle / right, or "between the left and the middle" while moving."""
        near = int(np.argmin([abs(self.x - s) for s in SLOT_X]))
        if abs(self.x - SLOT_X[near]) <= 0.07:
            return SLOT_NAMES[near]
        lo = int(np.searchsorted(SLOT_X, self.x)) - 1
        if lo < 0 or lo + 1 >= len(SLOT_X):
            return SLOT_NAMES[near]
        return f"between the {SLOT_NAMES[lo]} and the {SLOT_NAMES[lo + 1]}"

    @property
    def row(self) -> str | None:
        return "top" if self.y < 0.39 else "bottom" if self.y > 0.61 else None


def _colour(rgb: np.ndarray) -> tuple[str, tuple[str, str] | None]:
    dist = {name: float(np.linalg.norm(rgb - ref)) for name, ref in PALETTE.items()}
    nearest = min(dist, key=dist.get)
    if dist[nearest] <= 45:
        return nearest, None
    best, fit = None, np.inf
    names = list(PALETTE)
    for i, a in enumerate(names):
        for b in names[i + 1 :]:
            d = PALETTE[b] - PALETTE[a]
            p = float(np.clip(np.dot(rgb - PALETTE[a], d) / np.dot(d, d), 0.0, 1.0))
            residual = float(np.linalg.norm(rgb - PALETTE[a] - p * d))
            if residual < fit:
                best, fit = ((a, b) if p < 0.5 else (b, a)), residual
    return (best[0], best) if best is not None and fit <= 45 else (nearest, None)


def _kind(fill: float, side_px: float) -> str:
    """By how much of its bounding box a shape fills: square 1, circle pi/4, triangle 1/2."""
    if side_px < 6:
        return "shape"
    return "square" if fill >= 0.89 else "circle" if fill >= 0.66 else "triangle"


def _coverage(image: np.ndarray, component: np.ndarray, rgb: np.ndarray) -> tuple[float, float, float]:
    """(area, width, height) in pixels of a shape whose edges the codec blurred: each pixel counts
    for how far its colour lies from the background towards the shape's (so blur, which moves
    colour between neighbours, keeps the total); width and height sum the strongest pixel of each
    column and row."""
    ref = rgb - BACKGROUND
    alpha = np.clip(((image - BACKGROUND) @ ref) / float(ref @ ref), 0.0, 1.0) * component
    return float(alpha.sum()), float(alpha.max(0).sum()), float(alpha.max(1).sum())


def detect(frame: np.ndarray) -> list[Blob]:
    """The shapes of an (H, W, 3) uint8 frame, left to right, top to bottom."""
    if frame.ndim != 3 or frame.shape[2] != 3:
        msg = f"expected an (H, W, 3) RGB frame, got shape {frame.shape}"
        raise ValueError(msg)
    image = frame.astype(np.float32)
    h, w = frame.shape[:2]
    mask = np.abs(image - BACKGROUND).sum(-1) > FOREGROUND
    labels, _ = ndimage.label(mask)
    blobs = []
    for k, sl in enumerate(ndimage.find_objects(labels), start=1):
        component = labels[sl] == k
        if component.sum() < MIN_AREA * h * w:
            continue
        inner = ndimage.binary_erosion(component)
        rgb = image[sl][inner if inner.sum() >= 4 else component].mean(0)
        colour, blend = _colour(rgb)
        area, bw, bh = _coverage(image[sl], component, rgb)
        side = max(bw, bh)
        blobs.append(
            Blob(
                colour,
                tuple(float(v) for v in rgb),
                blend,
                _kind(area / max(bw * bh, 1e-6), side),
                (sl[1].start + sl[1].stop) / 2 / w,
                (sl[0].start + sl[0].stop) / 2 / h,
                side / w,
                (sl[1].start, sl[0].start, sl[1].stop, sl[0].stop),
            )
        )
    return sorted(blobs, key=lambda b: (round(b.y, 1), b.x))


@dataclass
class Track:
    """One shape followed through the frames: its blob on each frame, None where it is not seen."""

    blobs: list[Blob | None] = field(default_factory=list)

    def last(self) -> Blob | None:
        return next((b for b in reversed(self.blobs) if b is not None), None)

    def first(self) -> Blob:
        return next(b for b in self.blobs if b is not None)


def track(frames: list[list[Blob]]) -> list[Track]:
    """Link blobs across frames: each blob joins the track whose last blob is at about the same
    height (and nearest), else starts a new one."""
    tracks: list[Track] = []
    for k, blobs in enumerate(frames):
        taken: set[int] = set()
        for blob in blobs:
            best, cost = None, np.inf
            for t, tr in enumerate(tracks):
                last = tr.last()
                if t in taken or last is None or abs(last.y - blob.y) > 0.08:
                    continue
                c = abs(last.y - blob.y) + 0.3 * abs(last.x - blob.x) + 0.2 * (last.kind != blob.kind)
                if c < cost:
                    best, cost = t, c
            if best is None:
                tracks.append(Track([None] * k))
                best = len(tracks) - 1
            tracks[best].blobs.append(blob)
            taken.add(best)
        for t, tr in enumerate(tracks):
            if t not in taken:
                tr.blobs.append(None)
    return tracks


@dataclass(frozen=True)
class Change:
    """What one shape did between two frames."""

    action: str  # appear, disappear, move_left, move_right, grow, shrink, turn
    before: Blob | None
    after: Blob | None
    colour: str | None = None  # turn: the colour it is heading to

    @property
    def subject(self) -> Blob:
        return self.after if self.action == "appear" else self.before  # type: ignore[return-value]


def changes(a: Blob | None, b: Blob | None) -> list[Change]:
    """Every change of one tracked shape from blob ``a`` to blob ``b`` (None: not seen)."""
    if a is None or b is None:
        return [] if a is b else [Change("appear", a, b)] if a is None else [Change("disappear", a, b)]
    out = []
    if a.size == "tiny" and b.size != "tiny":
        out.append(Change("appear", a, b))
    elif b.size == "tiny" and a.size != "tiny":
        out.append(Change("disappear", a, b))
    elif b.side > GREW * a.side:
        out.append(Change("grow", a, b))
    elif a.side > GREW * b.side:
        out.append(Change("shrink", a, b))
    if abs(b.x - a.x) > MOVED:
        out.append(Change("move_left" if b.x < a.x else "move_right", a, b))
    if np.linalg.norm(np.subtract(b.rgb, a.rgb)) > TURNED:
        target = b.colour
        if b.blend is not None:  # heading to the end of the blend further from where it was
            target = max(b.blend, key=lambda c: float(np.linalg.norm(PALETTE[c] - np.array(a.rgb))))
        if target != a.colour or a.blend is not None:
            out.append(Change("turn", a, b, target))
    return out


@dataclass(frozen=True)
class Span:
    """An event read from timestamped frames."""

    start: float
    end: float
    change: Change


def events(frames: list[list[Blob]], times: list[float]) -> list[Span]:
    """Events over timestamped frames, by start time. A run of consecutive frame pairs where one
    shape keeps doing the same thing is one event (a shrink that ends in a disappearance is the
    disappearance, an appearance that goes on growing is the appearance); its span starts halfway
    into the run's first gap and ends halfway through its last (the change happened somewhere in
    there), or is the whole gap when the run is one pair."""
    out = []
    for tr in track(frames):
        runs: dict[str, list[tuple[int, Change]]] = {}
        for k in range(len(times) - 1):
            for change in changes(tr.blobs[k], tr.blobs[k + 1]):
                action = change.action
                if action == "disappear" and runs.get("shrink") and runs["shrink"][-1][0] == k - 1:
                    runs[action] = runs.pop("shrink")
                if action == "grow" and runs.get("appear") and runs["appear"][-1][0] == k - 1:
                    action = "appear"
                    change = replace(change, action=action)
                run = runs.setdefault(action, [])
                if run and run[-1][0] != k - 1:
                    out.append(_span(run, times))
                    run.clear()
                run.append((k, change))
        out += [_span(run, times) for run in runs.values() if run]
    return sorted(out, key=lambda s: (s.start, s.end, s.change.action))


def _span(run: list[tuple[int, Change]], times: list[float]) -> Span:
    first, last = run[0][0], run[-1][0]
    start, end = (
        (times[first], times[last + 1])
        if first == last
        else ((times[first] + times[first + 1]) / 2, (times[last] + times[last + 1]) / 2)
    )
    head, tail = run[0][1], run[-1][1]
    change = replace(
        tail if tail.action == "disappear" and head.action == "shrink" else head,
        before=head.before,
        after=tail.after,
        colour=tail.colour,
    )
    return Span(round(start, 2), round(end, 2), change)
