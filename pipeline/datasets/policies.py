"""Explicit policies for the defects of real annotation files, shared by every adapter.

Each rule has a stable name; the builder counts, per split, how many queries each rule touched
(a query counts once per rule even when the rule touched several of its windows). Nothing is
dropped or changed without being counted.

Window rules run in this order, each on the window as the previous rule left it:

0. ``dropped_non_finite_window``: a window whose start or end is NaN or infinite is dropped. JSON
   readers accept ``NaN`` / ``Infinity``, ``float()`` reads the text "nan", "inf" and "1e999", a
   JSON integer too large for a float becomes infinite here, and a frame count divided by a NaN
   fps is NaN. Every rule below compares numbers, and every comparison with NaN is false, so such
   a window would pass them all unchanged; an infinite bound is not "until the end" either
   (nothing in any format means that), so it is dropped, not clamped.
1. ``swapped_reversed``: start > end is taken as the two fields written the wrong way round, so
   they are swapped. This runs first so that the span's real end is the one compared with the
   duration below.
2. ``clamped_start_to_zero``: a negative start is set to 0.
2b. ``dropped_end_before_zero``: a window that ends before 0 lies wholly before the video, so it
   is dropped (after step 2 its end would lie before its start; the mirror of step 4).
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
an empty query is dropped (``dropped_empty_query``).

Durations: a query whose video is unknown or has no usable duration (missing, not a number,
zero or negative) is dropped (``dropped_unknown_video``). A duration that is NaN or infinite, or
is computed from a NaN / infinite frame rate or frame count (TACoS ``fps`` / ``num_frames``,
VidSTG ``fps`` / ``frame_count``), drops the query under ``dropped_non_finite_duration``: its
windows cannot be checked against it, and for the frame-based formats its timestamps are
divided by the same frame rate. A video given two different durations keeps the first one, and
the later query's windows are checked against it (``conflicting_video_duration``).

Extra fields: saliency labels (``relevant_clip_ids`` + ``saliency_scores``) holding a NaN or
infinite score are removed from the query, both keys together (``removed_non_finite_saliency``);
the query keeps its windows, it just has no saliency labels. Any other extra field holding a
non-finite number (VidSTG's ``segment`` and ``relation``) is removed (``removed_non_finite_extra``).
So no non-finite number ever reaches the Annotations, the manifest or ``priors stats``.

Malformed values (a window that is not two numbers, a null or empty video id, a fps of zero)
are not policies: they raise ``InputError`` naming the file, the line or entry, and the field.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from typing import Any

from groundwork.errors import InputError
from pipeline.datasets.files import as_float, is_number, shown

DROPPED_NON_FINITE_WINDOW = "dropped_non_finite_window"
SWAPPED_REVERSED = "swapped_reversed"
CLAMPED_START_TO_ZERO = "clamped_start_to_zero"
CLAMPED_END_TO_DURATION = "clamped_end_to_duration"
DROPPED_START_PAST_DURATION = "dropped_start_past_duration"
DROPPED_END_BEFORE_ZERO = "dropped_end_before_zero"
DROPPED_ZERO_LENGTH = "dropped_zero_length"
DROPPED_EMPTY_QUERY = "dropped_empty_query"
DROPPED_UNKNOWN_VIDEO = "dropped_unknown_video"
DROPPED_NON_FINITE_DURATION = "dropped_non_finite_duration"
STRIPPED_WHITESPACE = "stripped_whitespace"
KEPT_WITHOUT_WINDOWS = "kept_without_windows"
DROPPED_WITHOUT_WINDOWS = "dropped_without_windows"
CONFLICTING_VIDEO_DURATION = "conflicting_video_duration"
REMOVED_NON_FINITE_SALIENCY = "removed_non_finite_saliency"
REMOVED_NON_FINITE_EXTRA = "removed_non_finite_extra"

RULES: tuple[str, ...] = (
    DROPPED_NON_FINITE_WINDOW,
    SWAPPED_REVERSED,
    CLAMPED_START_TO_ZERO,
    DROPPED_END_BEFORE_ZERO,
    CLAMPED_END_TO_DURATION,
    DROPPED_START_PAST_DURATION,
    DROPPED_ZERO_LENGTH,
    DROPPED_EMPTY_QUERY,
    DROPPED_UNKNOWN_VIDEO,
    DROPPED_NON_FINITE_DURATION,
    STRIPPED_WHITESPACE,
    KEPT_WITHOUT_WINDOWS,
    DROPPED_WITHOUT_WINDOWS,
    CONFLICTING_VIDEO_DURATION,
    REMOVED_NON_FINITE_SALIENCY,
    REMOVED_NON_FINITE_EXTRA,
)

SALIENCY_KEYS: tuple[str, ...] = ("relevant_clip_ids", "saliency_scores")  # removed together

Window = tuple[float, float]


def all_finite(value: Any) -> bool:
    """True when no number anywhere inside ``value`` (dicts, lists, tuples) is NaN, infinite or
    an integer too large for a float."""
    if isinstance(value, float):
        return math.isfinite(value)
    if isinstance(value, int) and not isinstance(value, bool):
        return math.isfinite(as_float(value))
    if isinstance(value, dict):
        return all(all_finite(v) for v in value.values())
    if isinstance(value, list | tuple):
        return all(all_finite(v) for v in value)
    return True


def clean_window(start: float, end: float, duration: float) -> tuple[Window | None, list[str]]:
    """One window through the window rules; returns (window or None if dropped, rules fired)."""
    if not (math.isfinite(start) and math.isfinite(end)):
        return None, [DROPPED_NON_FINITE_WINDOW]
    fired: list[str] = []
    if start > end:
        start, end = end, start
        fired.append(SWAPPED_REVERSED)
    if start < 0:
        start = 0.0
        fired.append(CLAMPED_START_TO_ZERO)
    if end < 0:
        fired.append(DROPPED_END_BEFORE_ZERO)
        return None, fired
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
        window, rules = clean_window(as_float(start), as_float(end), duration)
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


def duration_rule(duration: object) -> tuple[float | None, str | None]:
    """``(seconds, None)`` for a positive finite duration (a number, or a string that parses as
    one: CSV columns), else ``(None, rule)``: ``dropped_non_finite_duration`` for NaN / ±inf,
    ``dropped_unknown_video`` for anything else (missing, not a number, zero, negative)."""
    if duration is None or isinstance(duration, bool) or not isinstance(duration, int | float | str):
        return None, DROPPED_UNKNOWN_VIDEO
    try:
        value = as_float(duration)
    except ValueError:
        return None, DROPPED_UNKNOWN_VIDEO
    if not math.isfinite(value):
        return None, DROPPED_NON_FINITE_DURATION
    return (value, None) if value > 0 else (None, DROPPED_UNKNOWN_VIDEO)


def usable_duration(duration: object) -> float | None:
    """A positive finite duration in seconds, or None (see ``duration_rule`` for which rule)."""
    return duration_rule(duration)[0]


def finite_extra(extra: dict[str, Any]) -> tuple[dict[str, Any], set[str]]:
    """``extra`` without the fields that hold a non-finite number, and the rules that fired:
    saliency labels go as a pair (``removed_non_finite_saliency``), any other field alone
    (``removed_non_finite_extra``)."""
    fired: set[str] = set()
    bad = {key for key, value in extra.items() if not all_finite(value)}
    if bad & set(SALIENCY_KEYS):
        fired.add(REMOVED_NON_FINITE_SALIENCY)
        bad |= set(SALIENCY_KEYS)
    if bad - set(SALIENCY_KEYS):
        fired.add(REMOVED_NON_FINITE_EXTRA)
    return {key: value for key, value in extra.items() if key not in bad}, fired


def parse_windows(raw: object, where: str) -> list[Window]:
    """``[[s, e], ...]`` (or a single ``[s, e]``) as floats; a malformed value is an
    ``InputError`` naming its source. Non-finite numbers are kept: ``clean_window`` counts them."""
    if not isinstance(raw, Sequence) or isinstance(raw, str):
        msg = f"{where}: windows must be a list of [start, end], got {shown(raw)}"
        raise InputError(msg)
    items = [raw] if len(raw) == 2 and all(is_number(x) for x in raw) else list(raw)
    out: list[Window] = []
    for item in items:
        if (
            not isinstance(item, Sequence)
            or isinstance(item, str)
            or len(item) != 2
            or not all(is_number(x) for x in item)
        ):
            msg = f"{where}: a window must be [start, end] with two numbers, got {shown(item)}"
            raise InputError(msg)
        out.append((as_float(item[0]), as_float(item[1])))
    return out
