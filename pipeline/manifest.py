"""The manifest ``manifests/<dataset>.parquet``: one row per (split, query) with the keys of
every prior row the trainer needs (ok rows only; for structured kinds the item rows, see
``expand_structured``), one ``<kind>_keys`` column per prior kind of the run
(``groundwork.cache.layout.manifest_schema``), plus table metadata saying where the cache is and
which text encoder / visual feature set it refers to. It is written atomically
(``groundwork.atomic``); ``groundwork.cache.manifest`` reads it."""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Mapping, Sequence
from datetime import datetime, timezone
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from groundwork.atomic import atomic_write
from groundwork.cache.fs import CachePath, cache_location
from groundwork.cache.hashing import sha256_text
from groundwork.cache.layout import MANIFEST_META, key_column, manifest_schema
from pipeline.datasets.base import Annotations
from pipeline.kinds import kind_names, parser_of
from pipeline.kinds.structured import item_keys

# planned[video_id][kind] = [(key, query_id), ...] in plan order; query_id "" = video-level.
Planned = Mapping[str, Mapping[str, list[tuple[str, str]]]]


def expand_structured(planned: Planned, ok_keys: Mapping[str, set[str]]) -> dict[str, dict[str, list[tuple[str, str]]]]:
    """``planned`` with each answered structured request (event, query_rewrite) replaced by its
    item keys (``pipeline.kinds.structured.item_keys``): the rows readers want. A request answered
    with zero valid events expands to nothing; a failed one stays (and is not ok)."""
    out: dict[str, dict[str, list[tuple[str, str]]]] = {}
    for vid, kinds in planned.items():
        out[vid] = {}
        for kind, pairs in kinds.items():
            if parser_of(kind) is None:
                out[vid][kind] = list(pairs)
                continue
            ok = ok_keys.get(kind, set())
            out[vid][kind] = [(ik, qid) for key, qid in pairs for ik in (item_keys(key, ok) if key in ok else [key])]
    return out


def build_manifest(
    ann: Annotations,
    planned: Planned,
    ok_keys: Mapping[str, set[str]],
    video_sha256: Mapping[str, str],
    kinds: Sequence[str] | None = None,
) -> pa.Table:
    """One row per query; a ``<kind>_keys`` column for each of ``kinds`` (default: every
    registered prior kind) listing its ok rows for the query (video-level rows and its own)."""
    kinds = list(kinds) if kinds is not None else kind_names()
    schema = manifest_schema(kinds)
    by_video: dict[str, list[str]] = defaultdict(list)
    for q in ann.queries:
        by_video[q.video_id].append(q.query_id)
    cols: dict[str, list] = {f.name: [] for f in schema}
    for q in ann.queries:
        video_planned = planned.get(q.video_id, {})
        row = {
            "query_id": q.query_id,
            "video_id": q.video_id,
            "split": q.split,
            "query": q.text,
            "windows": [[float(s), float(e)] for s, e in q.windows],
            "duration": float(q.duration),
            "video_sha256": video_sha256.get(q.video_id, ""),
            "query_sha256": sha256_text(q.text),
            "context_query_ids": [o for o in by_video[q.video_id] if o != q.query_id],
            "extra": json.dumps(q.extra, sort_keys=True, default=str),
        }
        for kind in kinds:
            ok = ok_keys.get(kind, set())
            row[key_column(kind)] = [k for k, qid in video_planned.get(kind, []) if qid in ("", q.query_id) and k in ok]
        for name, value in row.items():
            cols[name].append(value)
    return pa.table(cols, schema=schema)


def write_manifest(
    path: Path,
    table: pa.Table,
    *,
    dataset: str,
    cache_dir: CachePath,
    text_encoder: str,
    visual_features: str = "",
    patch_features: str = "",
) -> Path:
    meta = {
        "dataset": dataset,
        "cache_dir": str(cache_location(cache_dir).resolve()),
        "text_encoder": text_encoder,
        "visual_features": visual_features,
        "patch_features": patch_features,
        "created_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
    }
    if set(meta) != set(MANIFEST_META):
        msg = f"manifest metadata keys {sorted(meta)} differ from MANIFEST_META {sorted(MANIFEST_META)}"
        raise ValueError(msg)
    table = table.replace_schema_metadata({k.encode(): v.encode() for k, v in meta.items()})
    return atomic_write(path, lambda tmp: pq.write_table(table, tmp))
