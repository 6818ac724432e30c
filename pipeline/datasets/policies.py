"""Explicit policies for the defects of real annotation files, shared by every adapter.

Each rule has a stable name; the builder counts, per split, how many queries each rule touched
(a query counts once per rule even when the rule touched several of its windows). Nothing is
dropped or changed without being counted.

Window rules run in this order, each on the window as the previous rule left it:

1. ``swapped_reversed``: start > end is taken as the two fields written the wrong way round, so
   they are swapped. This runs first so that the span's real end is the one compared with the
   duration below.
2. ``clamped_start_to_zero``: a negative start is set to 0.
3. ``clamped_end_to_duration``: an end past the video's duration is set to the duration
   (annotators marked "until the end", and durations in the metadata are often slightly short).
4. ``dropped_start_past_duration``: a window that starts at or after the duration lies outside
   the video, so it is dropped (after step 3 it would have zero or negative length anyway).
5. ``dropped_zero_length``: start == end is dropped: a zero-length window can never overlap a
   prediction (IoU is 0 for any span), so it only adds unreachable targets and, in training,
   start and end labels on the same frame.

On Charades-STA train this order gives exactly the counts the data README lists: 4 swapped,
1,805 ends clamped (1,802 kept windows plus the 3 swapped ones whose end, too, lies past the
duration) and 3 windows (hence queries) dropped for starting past the duration.

A query whose windows are all dropped is dropped too (counted under the rule that removed its
windows). A query that never had windows (a test split without labels) is kept and counted as
``kept_without_windows``; one with an empty window list in a labelled split is dropped
(``dropped_without_windows``). Text: leading/trailing whitespace is stripped (``stripped_whitespace``);
an empty query is dropped (``dropped_empty_query``). A query whose video is unknown or has no
usable duration is dropped (``dropped_unknown_video``). A video given two different durations
keeps the first one, and the later query's windows are checked against it
(``conflicting_video_duration``).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

SWAPPED_REVERSED = "swapped_reversed"
CLAMPED_START_TO_ZERO = "clamped_start_to_zero"
CLAMPED_END_TO_DURATION = "clamped_end_to_duration"
DROPPED_START_PAST_DURATION = "dropped_start_past_duration"
DROPPED_ZERO_LENGTH = "dropped_zero_length"
DROPPED_EMPTY_QUERY = "dropped_empty_query"
DROPPED_UNKNOWN_VIDEO = "dropped_unknown_video"
STRIPPED_WHITESPACE = "stripped_whitespace"
KEPT_WITHOUT_WINDOWS = "kept_without_windows"
DROPPED_WITHOUT_WINDOWS = "dropped_without_windows"
CONFLICTING_VIDEO_DURATION = "conflicting_video_duration"

RULES: tuple[str, ...] = (
    SWAPPED_REVERSED,
    CLAMPED_START_TO_ZERO,
    CLAMPED_END_TO_DURATION,
    DROPPED_START_PAST_DURATION,
    DROPPED_ZERO_LENGTH,
    DROPPED_EMPTY_QUERY,
    DROPPED_UNKNOWN_VIDEO,
    STRIPPED_WHITESPACE,
    KEPT_WITHOUT_WINDOWS,
    DROPPED_WITHOUT_WINDOWS,
    CONFLICTING_VIDEO_DURATION,
)

Window = tuple[float, float]


def clean_window(start: float, end: float, duration: float) -> tuple[Window | None, list[str]]:
    """One window through the five window rules; returns (window or None if dropped, rules fired)."""
    fired: list[str] = []
    if start > end:
        start, end = end, start
        fired.append(SWAPPED_REVERSED)
    if start < 0:
        start = 0.0
        fired.append(CLAMPED_START_TO_ZERO)
    if end > duration:
        end = duration
        fired.append(CLAMPED_END_TO_DURATION)
    if start >= duration:
        fired.append(DROPPED_START_PAST_DURATION)
        return None, fired
    if start == end:
        fired.append(DROPPED_ZERO_LENGTH)
        return None, fired
    return (start, end), fired


def clean_windows(windows: Iterable[Window], duration: float) -> tuple[list[Window], set[str]]:
    """All windows of one query; returns the kept windows and the set of rules that fired."""
    kept: list[Window] = []
    fired: set[str] = set()
    for start, end in windows:
        window, rules = clean_window(float(start), float(end), duration)
        fired.update(rules)
        if window is not None:
            kept.append(window)
    return kept, fired


def clean_text(text: str) -> tuple[str | None, set[str]]:
    """Strip surrounding whitespace; None when nothing is left."""
    stripped = text.strip()
    fired = {STRIPPED_WHITESPACE} if stripped != text else set()
    if not stripped:
        fired.add(DROPPED_EMPTY_QUERY)
        return None, fired
    return stripped, fired


def usable_duration(duration: object) -> float | None:
    """A positive finite duration in seconds, or None (the query is then dropped as unknown)."""
    if duration is None or isinstance(duration, bool):
        return None
    try:
        value = float(duration)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None
    return value if 0 < value < float("inf") else None


def parse_windows(raw: object, where: str) -> list[Window]:
    """``[[s, e], ...]`` (or a single ``[s, e]``) as floats; a malformed value names its source."""
    if not isinstance(raw, Sequence) or isinstance(raw, str):
        msg = f"{where}: windows must be a list of [start, end], got {raw!r}"
        raise ValueError(msg)
    items = [raw] if len(raw) == 2 and all(_is_number(x) for x in raw) else list(raw)
    out: list[Window] = []
    for item in items:
        if not isinstance(item, Sequence) or len(item) != 2 or not all(_is_number(x) for x in item):
            msg = f"{where}: a window must be [start, end] with two numbers, got {item!r}"
            raise ValueError(msg)
        out.append((float(item[0]), float(item[1])))
    return out


def _is_number(x: object) -> bool:
    return isinstance(x, int | float) and not isinstance(x, bool)
