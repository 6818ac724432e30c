"""The demo world's shared vocabulary: how its frames look (palette, geometry, drawing) and the
words for what is in them. The generator (``pipeline.demo.world``, ``videos``, ``stvg``) draws
with it; the pixel-reading narrator (``pipeline.demo.narrator``) knows the same palette and
words, as a model knows colours and English, but never the generator's scripts.

A frame is ``SIZE`` x ``SIZE`` RGB on a flat dark ``BACKGROUND``. Each shape lives in its own
row (``ROWS[n]``: the y centres for a video of ``n`` shapes) and sits at one of three x
``SLOTS`` (left, middle, right) or moves between them; a big shape is ``SHAPE`` px wide, a small
one ``SMALL`` times that. Rows are far enough apart that shapes never touch."""

from __future__ import annotations

import numpy as np

SIZE, FPS, SHAPE = 128, 10, 36  # frame side (px), frame rate, full (big) shape side (px)
SMALL = 0.6  # side of a small shape, as a fraction of SHAPE
BACKGROUND = np.array([32, 32, 32], np.float32)
COLOURS = {"red": (230, 30, 30), "green": (30, 200, 40), "blue": (40, 70, 235), "yellow": (240, 220, 30)}
KINDS = ("circle", "square", "triangle")
SLOTS = (26, 64, 102)  # x centres: left, middle, right
ROWS = {1: (64,), 2: (36, 92), 3: (22, 64, 106)}  # y centres of the shapes, by how many a video has
SLOT_NAMES = ("left", "middle", "right")
SLOT_PHRASES = ("on the left", "in the middle", "on the right")

# Words a sentence may use for a colour or a kind; the first is the plain one.
COLOUR_WORDS = {
    "red": ("red", "scarlet"),
    "green": ("green", "lime"),
    "blue": ("blue", "azure"),
    "yellow": ("yellow", "golden"),
}
KIND_WORDS = {
    "circle": ("circle", "disc", "round shape", "ball"),
    "square": ("square", "box", "block"),
    "triangle": ("triangle", "wedge", "three-sided shape"),
}
GENERIC_NOUNS = ("shape", "thing", "object", "one")


_YY, _XX = np.mgrid[0:SIZE, 0:SIZE].astype(np.float32) + 0.5


def shape_mask(kind: str, cx: float, cy: float, side: float) -> np.ndarray:
    """Pixels (SIZE, SIZE) bool covered by a shape of width ``side`` centred at (cx, cy)."""
    dx, dy, h = _XX - cx, _YY - cy, side / 2
    if kind == "circle":
        return dx * dx + dy * dy <= h * h
    if kind == "square":
        return (np.abs(dx) <= h) & (np.abs(dy) <= h)
    if kind == "triangle":
        return (dy <= h) & (dy >= -h + 2 * np.abs(dx))  # apex up
    msg = f"shape_mask: unknown kind {kind!r}; known: {', '.join(KINDS)}"
    raise ValueError(msg)


def blank() -> np.ndarray:
    """An empty frame (SIZE, SIZE, 3) float32 of the background colour."""
    image = np.empty((SIZE, SIZE, 3), np.float32)
    image[:] = BACKGROUND
    return image


def draw(image: np.ndarray, kind: str, cx: float, cy: float, side: float, rgb: object) -> np.ndarray:
    """Paint a shape onto ``image`` (in place) and return its mask."""
    mask = shape_mask(kind, cx, cy, side)
    image[mask] = np.asarray(rgb, np.float32)
    return mask


def to_uint8(image: np.ndarray) -> np.ndarray:
    return image.round().astype(np.uint8)
