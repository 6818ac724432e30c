"""The batch contract, declared once: every field a batch can hold, where it comes from, whether it
belongs to the video or to the query, and how it is laid out. The dataset
(``grounding.data.dataset``), ``collate`` (with or without shared videos) and ``Predictor`` all
loop over this table; a model's ``required_keys`` (what ``forward`` reads) and ``loss_keys`` (what
only the loss reads) name fields of it, and only those are loaded.

Layouts (B queries in the batch, U distinct videos when videos are shared, L the longest video):

- ``snippets``: one row per snippet of the video, ``(n, ...)`` per item -> ``(B or U, L, ...)``,
  padded with zeros; a ``padding`` mask is True on real snippets.
- ``set``: a variable number of rows, ``(n, D)`` per item -> ``(B or U, N, D)`` with N >= 1 (a
  batch with no rows has one fully masked slot, never an empty axis); ``spans`` names its
  ``(N, 2)`` start / end in seconds when the rows have times.
- ``tokens``: like ``set``, the words of one sentence.
- ``sentence``: one vector per item -> ``(B or U, D)``.
- ``scalar``: one number per item -> ``(B or U,)``.
- ``frames``: one row per frame of a query's evaluation grid (spatio-temporal grounding),
  ``(F, ...)`` per item -> ``(B, F, ...)`` padded with zeros like ``set`` (its mask is True on
  real frames); e.g. ``frame_patches`` (F, P, Dp), ``frame_times`` (F,).

``source`` says where the values come from: ``features`` (the video feature store), ``query``
(the query's text features), ``manifest`` (the row itself: the video's duration), ``context`` (the other queries of the same video), ``targets`` (the
model's training targets, ``GroundingModel.target_maker``), ``stvg`` (spatio-temporal grounding:
the manifest's patch-grid set, the row's STVG block and the tube table beside the manifest,
``grounding.data.stvg``; loaded only when a model names them) or a prior kind (rows of the cache
listed in the manifest's ``<kind>_keys`` column). A prior-kind field with layout ``set`` holds
the sentence vectors of the ok rows (sorted by start time unless ``ordered`` is False, when the
manifest's order is kept), with ``spans`` when declared; with layout ``snippets`` it holds TEA's
Eq. (3) alignment (the mean sentence vector of the rows whose time falls in each snippet) and an
``item`` mask of the snippets that received one.

Adding a field is one ``FIELDS.register`` call (a test may register one from its own module).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal

from groundwork.registry import Registry

Layout = Literal["snippets", "set", "tokens", "sentence", "scalar", "frames"]
Level = Literal["video", "query"]
MaskKind = Literal["padding", "item"]

# Plain lists that ride along in every batch (one entry per query; ``to_device`` leaves them).
META_KEYS = ("query_id", "video_id", "query", "windows")


@dataclass(frozen=True)
class BatchField:
    name: str
    source: str  # features / query / context / targets / a prior kind
    level: Level
    layout: Layout
    dtype: str = "float32"  # float32 / bool / int64
    mask: str | None = None  # key of the field's bool mask
    mask_kind: MaskKind = "padding"  # padding: made by collate; item: computed by the loader
    spans: str | None = None  # key of the (N, 2) spans in seconds of a ``set`` field
    ordered: bool = True  # prior ``set`` fields: sort rows by time (False keeps the manifest's order)

    @property
    def is_label(self) -> bool:
        return self.source == "targets"

    def keys(self) -> tuple[str, ...]:
        """Every batch key this field fills: itself, its mask and its spans."""
        return tuple(k for k in (self.name, self.mask, self.spans) if k)


FIELDS: Registry[BatchField] = Registry("batch field")


def register_field(spec: BatchField) -> BatchField:
    return FIELDS.register(spec.name)(spec)


def field_of(key: str) -> BatchField:
    """The field that fills batch key ``key`` (a field name, or its mask or spans key)."""
    for spec in FIELDS.values():
        if key in spec.keys():
            return spec
    return FIELDS.get(key)  # not a field: the registry's "unknown batch field ... did you mean" error


def fields_for(keys: Iterable[str]) -> list[BatchField]:
    """The fields that fill ``keys``, each once, in registration order."""
    wanted = {field_of(k).name for k in keys}
    return [spec for spec in FIELDS.values() if spec.name in wanted]


for _spec in (
    BatchField("video", "features", "video", "snippets", mask="video_mask"),
    BatchField("query_tokens", "query", "query", "tokens", mask="query_mask"),
    # the tokenizer id of each query token (int64 ``tokens`` of source query; cache text schema v2),
    # padded like query_tokens, whose mask it shares
    BatchField("query_token_ids", "query", "query", "tokens", dtype="int64"),
    BatchField("query_sentence", "query", "query", "sentence"),
    BatchField("narratives", "narrative", "video", "snippets", mask="narrative_mask", mask_kind="item"),
    BatchField("clip_captions", "clip_caption", "video", "set", mask="clip_caption_mask", spans="clip_caption_spans"),
    BatchField("events", "event", "video", "set", mask="event_mask", spans="event_spans"),
    BatchField("query_rewrites", "query_rewrite", "query", "set", mask="query_rewrite_mask", ordered=False),
    BatchField("query_captions", "query_caption", "query", "set", mask="query_caption_mask", spans="query_caption_spans"),
    # GranAlign (grounding.models.granalign): the narratives on their own frame grid (not aligned to
    # snippets) or GranAlign's own query-agnostic frame captions, the rewrite pairs in manifest order
    # (simplified, detailed, simplified, ...) and the query-aware captions of the query's key frames
    BatchField("narrative_frames", "narrative", "video", "set", mask="narrative_frame_mask",
               spans="narrative_frame_spans"),
    BatchField("frame_captions", "frame_caption", "video", "set", mask="frame_caption_mask",
               spans="frame_caption_spans"),
    BatchField("rewrite_pairs", "query_rewrite_pairs", "query", "set", mask="rewrite_pair_mask", ordered=False),
    BatchField("key_frame_captions", "key_frame_caption", "query", "set", mask="key_frame_caption_mask",
               spans="key_frame_caption_spans"),
    BatchField("context", "context", "query", "set", mask="context_mask"),
    BatchField("duration", "manifest", "query", "scalar"),
    BatchField("start_label", "targets", "query", "snippets"),
    BatchField("end_label", "targets", "query", "snippets"),
    BatchField("highlight_label", "targets", "query", "snippets"),
    # DETR-family targets (grounding.models.qd_detr.DetrTargets): every window as normalised
    # (centre, width), and a saliency label per snippet (0/1 inside a window, or QVHighlights'
    # summed annotator scores)
    BatchField("span_targets", "targets", "query", "set", mask="span_target_mask"),
    BatchField("saliency_label", "targets", "query", "snippets"),
    # Spatio-temporal grounding (grounding.models.bridge_stg, grounding.data.stvg): per query, the
    # frames of its evaluation grid (groundwork.stvg) -- their patch grids (F, P, Dp), times in
    # seconds, raw frame ids, GT boxes (normalised x1, y1, x2, y2; zeros outside the GT tube) and
    # presence (1 on the GT tube's frames) -- the frame size (width, height in pixels), the segment
    # the model sees (start, end in seconds) and the cached temporal-reasoning prior (reasoning
    # text, target phrase; their span)
    BatchField("frame_patches", "stvg", "query", "frames", mask="frame_mask"),
    BatchField("frame_times", "stvg", "query", "frames"),
    BatchField("frame_ids", "stvg", "query", "frames", dtype="int64"),
    BatchField("frame_boxes", "stvg", "query", "frames"),
    BatchField("frame_presence", "stvg", "query", "frames"),
    BatchField("frame_size", "stvg", "query", "sentence"),
    BatchField("query_segment", "stvg", "query", "sentence"),
    BatchField("reasoning_prior", "temporal_reasoning", "query", "set", mask="reasoning_prior_mask",
               spans="reasoning_prior_spans", ordered=False),
):
    register_field(_spec)
