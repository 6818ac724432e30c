"""The cache contract shared by the priors pipeline (writer) and the grounding trainer (reader).

Layout under the cache root (``--cache``, else ``GROUNDWORK_CACHE``, else ``~/.cache/groundwork``)::

    priors/<kind>/part-<uuid>.parquet          PRIOR_SCHEMA rows, kind in PRIOR_KINDS
    text/<encoder>/part-<uuid>.parquet         TEXT_FEATURE_SCHEMA rows, keyed by text_sha256
    visual/<extractor>/<video_id>.npz          key "features", shape (L, D) float32, 1 row per second

Shards are write-once: written to ``.tmp-<uuid>.parquet`` beside the final name, then renamed.
Readers ignore names that start with a dot, so a killed writer leaves nothing half-read.
The same key may appear in several shards (two machines racing); readers keep one.
"""

from __future__ import annotations

import pyarrow as pa

PRIOR_KINDS = ("narrative", "clip_caption", "event", "query_rewrite", "query_caption", "context")

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

TEXT_FEATURE_SCHEMA = pa.schema(
    [
        ("text_sha256", pa.string()),
        ("encoder", pa.string()),
        ("text", pa.string()),
        ("dim", pa.int32()),
        ("sentence", pa.list_(pa.float32())),  # (dim,)
        ("n_tokens", pa.int32()),
        ("tokens", pa.list_(pa.float32())),  # (n_tokens * dim,) row-major, no special tokens
    ]
)

# One row per (split, query). Table-level metadata (bytes -> bytes) carries MANIFEST_META keys.
MANIFEST_SCHEMA = pa.schema(
    [
        ("query_id", pa.string()),
        ("video_id", pa.string()),
        ("split", pa.string()),
        ("query", pa.string()),
        ("windows", pa.list_(pa.list_(pa.float64()))),
        ("duration", pa.float64()),
        ("video_sha256", pa.string()),
        ("query_sha256", pa.string()),  # text_sha256 of the query, for its text features
        ("narrative_keys", pa.list_(pa.string())),
        ("clip_caption_keys", pa.list_(pa.string())),
        ("event_keys", pa.list_(pa.string())),
        ("query_rewrite_keys", pa.list_(pa.string())),
        ("query_caption_keys", pa.list_(pa.string())),
        ("context_query_ids", pa.list_(pa.string())),  # other queries of the same video
        ("extra", pa.string()),  # JSON: saliency scores, relevant clip ids, novel words, ...
    ]
)

# Manifest metadata keys: where the cache lives, which text encoder and which visual
# feature set the manifest refers to.
MANIFEST_META = ("dataset", "cache_dir", "text_encoder", "visual_features", "created_at")
