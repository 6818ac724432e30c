"""The cache contract shared by the priors pipeline (writer) and the grounding trainer (reader).

Layout under the cache root (``--cache``, else ``GROUNDWORK_CACHE``, else ``~/.cache/groundwork``;
a local folder or a URI such as ``s3://bucket/prefix``, ``groundwork.cache.fs``)::

    priors/<kind>/part-<uuid>.parquet          PRIOR_SCHEMA rows; kinds are the pipeline's planners
    text/<encoder>/part-<uuid>.parquet         TEXT_FEATURE_SCHEMA rows, keyed by text_sha256
    visual/<extractor>/<video_id>.npz          key "features", shape (L, D) float32, 1 row per second
    visual/<patch set>/<video_id>.npz          STVG: "patches" (F, g, g, D) float16 + "frame_ids" (F,)
    claims/<kind>/<claim id>.json              work claims and done markers of runs sharing the cache
                                               (``groundwork.cache.claims``); no rows, never read as data

Shards are write-once: written under a ``.tmp-*`` name beside the final one, then renamed
(``groundwork.atomic``). Readers ignore names that start with a dot, so a killed writer leaves
nothing half-read. A run writes its shards from one buffer per folder (``pipeline.stages.write``:
up to 20,000 rows or 32 MB each by default, fewer at the end of a run or after 5 minutes).
The same key may appear in several shards (two machines racing); readers keep one. Runs sharing
a cache claim each (kind, video) before generating it, so that normally never happens.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

import pyarrow as pa

KIND_NAME = re.compile(r"^[a-z][a-z0-9_]*$")  # a prior kind names a cache folder and a manifest column

PRIOR_SCHEMA = pa.schema(
    [
        ("key", pa.string()),  # cache key: hash of everything that decides the output
        ("kind", pa.string()),
        ("video_id", pa.string()),
        ("video_sha256", pa.string()),
        ("query_id", pa.string()),  # "" for video-level priors (narrative, clip_caption, event)
        ("t_start", pa.float64()),  # seconds; for a narrative t_start == t_end == frame time
        ("t_end", pa.float64()),
        ("text", pa.string()),
        ("text_sha256", pa.string()),  # joins to the text-feature cache
        ("model", pa.string()),
        ("model_revision", pa.string()),
        ("prompt_id", pa.string()),
        ("prompt_version", pa.int32()),
        ("prompt_sha256", pa.string()),
        ("sampling", pa.string()),  # canonical JSON of SamplingConfig
        ("backend", pa.string()),
        ("n_prompt_tokens", pa.int32()),
        ("n_output_tokens", pa.int32()),
        ("latency_ms", pa.float64()),
        ("status", pa.string()),  # ok / error
        ("error_type", pa.string()),
        ("error", pa.string()),
        ("raw", pa.string()),  # raw model output where it differs from text (structured outputs)
        ("created_at", pa.string()),  # ISO 8601 UTC
    ]
)

# Version 2 added ``token_ids``: the tokenizer's id of each token vector (same order, no special
# tokens), which models that predict words need (MESM's word reconstruction). A shard written
# before it (version 1, no such column) still reads: its ``token_ids`` come back null, read as
# "no ids" (``grounding.data.textbank``); a model that needs ids then names the cache folder and
# the fix (delete ``<cache>/text/<encoder>`` and run ``priors run`` again: it re-embeds every text
# the manifest needs, priors stay cached).
TEXT_SCHEMA_VERSION = 2
TEXT_FEATURE_SCHEMA = pa.schema(
    [
        ("text_sha256", pa.string()),
        ("encoder", pa.string()),
        ("text", pa.string()),
        ("dim", pa.int32()),
        ("sentence", pa.list_(pa.float32())),  # (dim,)
        ("n_tokens", pa.int32()),
        ("tokens", pa.list_(pa.float32())),  # (n_tokens * dim,) row-major, no special tokens
        ("token_ids", pa.list_(pa.int32())),  # (n_tokens,) tokenizer ids of those tokens; null: not recorded
    ],
    metadata={"groundwork.text_schema_version": str(TEXT_SCHEMA_VERSION)},
)

# One row per (split, query): these columns, then one ``<kind>_keys`` column (list of prior-row
# keys) per prior kind the manifest was built with, then MANIFEST_TAIL. Table-level metadata
# (bytes -> bytes) carries MANIFEST_META keys.
MANIFEST_HEAD = [
    ("query_id", pa.string()),
    ("video_id", pa.string()),
    ("split", pa.string()),
    ("query", pa.string()),
    ("windows", pa.list_(pa.list_(pa.float64()))),
    ("duration", pa.float64()),
    ("video_sha256", pa.string()),
    ("query_sha256", pa.string()),  # text_sha256 of the query, for its text features
]
MANIFEST_TAIL = [
    ("context_query_ids", pa.list_(pa.string())),  # other queries of the same video
    ("extra", pa.string()),  # JSON: saliency scores, relevant clip ids, novel words, ...
]
KEYS_SUFFIX = "_keys"


def key_column(kind: str) -> str:
    """The manifest column listing a prior kind's row keys for each query."""
    if not KIND_NAME.match(kind):
        msg = f"prior kind {kind!r} is not a valid name (lower-case letters, digits and '_', starting with a letter)"
        raise ValueError(msg)
    return f"{kind}{KEYS_SUFFIX}"


def manifest_schema(kinds: Iterable[str]) -> pa.Schema:
    """The manifest schema for a run that produced ``kinds`` (in that column order)."""
    keys = [(key_column(k), pa.list_(pa.string())) for k in kinds]
    return pa.schema(MANIFEST_HEAD + keys + MANIFEST_TAIL)


def manifest_kinds(schema: pa.Schema) -> list[str]:
    """The prior kinds a manifest has key columns for, in column order."""
    return [n[: -len(KEYS_SUFFIX)] for n in schema.names if n.endswith(KEYS_SUFFIX)]


# Manifest metadata keys: where the cache lives, which text encoder and which visual
# feature set the manifest refers to, and (STVG datasets) which per-frame patch-grid set
# (``visual/<patch_features>/{vid}.npz``: ``patches`` (F, g, g, D) fp16 + ``frame_ids``; "" when none).
MANIFEST_META = ("dataset", "cache_dir", "text_encoder", "visual_features", "patch_features", "created_at")
