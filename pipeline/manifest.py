"""The manifest ``manifests/<dataset>.parquet``: one row per (split, query) with the keys of
every prior row the trainer needs (ok rows only; for structured kinds the item rows, see
``expand_structured``), per MANIFEST_SCHEMA, plus table metadata
saying where the cache is and which text encoder / visual feature set it refers to.
It is written atomically (temp name, then rename)."""

from __future__ import annotations

import json
import os
import uuid
from collections import defaultdict
from collections.abc import Mapping
from datetime import datetime, timezone
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from pipeline.cache.layout import MANIFEST_META, MANIFEST_SCHEMA
from pipeline.datasets.base import Annotations
from pipeline.hashing import sha256_text
from pipeline.structured import STRUCTURED, item_keys

KEY_COLUMNS = tuple(f.name for f in MANIFEST_SCHEMA if f.name.endswith("_keys"))

# planned[video_id][kind] = [(key, query_id), ...] in plan order; query_id "" = video-level.
Planned = Mapping[str, Mapping[str, list[tuple[str, str]]]]


def expand_structured(planned: Planned, ok_keys: Mapping[str, set[str]]) -> dict[str, dict[str, list[tuple[str, str]]]]:
    """``planned`` with each answered structured request (event, query_rewrite) replaced by its
    item keys (``pipeline.structured.item_keys``): the rows readers want. A request answered
    with zero valid events expands to nothing; a failed one stays (and is not ok)."""
    out: dict[str, dict[str, list[tuple[str, str]]]] = {}
    for vid, kinds in planned.items():
        out[vid] = {}
        for kind, pairs in kinds.items():
            if kind not in STRUCTURED:
                out[vid][kind] = list(pairs)
                continue
            ok = ok_keys.get(kind, set())
            out[vid][kind] = [(ik, qid) for key, qid in pairs
                              for ik in (item_keys(key, ok) if key in ok else [key])]
    return out


def build_manifest(ann: Annotations, planned: Planned, ok_keys: Mapping[str, set[str]],
                   video_sha256: Mapping[str, str]) -> pa.Table:
    by_video: dict[str, list[str]] = defaultdict(list)
    for q in ann.queries:
        by_video[q.video_id].append(q.query_id)
    cols: dict[str, list] = {f.name: [] for f in MANIFEST_SCHEMA}
    for q in ann.queries:
        video_planned = planned.get(q.video_id, {})
        row = {
            "query_id": q.query_id, "video_id": q.video_id, "split": q.split, "query": q.text,
            "windows": [[float(s), float(e)] for s, e in q.windows], "duration": float(q.duration),
            "video_sha256": video_sha256.get(q.video_id, ""), "query_sha256": sha256_text(q.text),
            "context_query_ids": [o for o in by_video[q.video_id] if o != q.query_id],
            "extra": json.dumps(q.extra, sort_keys=True, default=str),
        }
        for column in KEY_COLUMNS:
            kind = column[: -len("_keys")]
            ok = ok_keys.get(kind, set())
            row[column] = [k for k, qid in video_planned.get(kind, []) if qid in ("", q.query_id) and k in ok]
        for name, value in row.items():
            cols[name].append(value)
    return pa.table(cols, schema=MANIFEST_SCHEMA)


def write_manifest(path: Path, table: pa.Table, *, dataset: str, cache_dir: Path, text_encoder: str,
                   visual_features: str = "") -> Path:
    meta = {"dataset": dataset, "cache_dir": str(Path(cache_dir).resolve()), "text_encoder": text_encoder,
            "visual_features": visual_features,
            "created_at": datetime.now(timezone.utc).isoformat(timespec="seconds")}
    if set(meta) != set(MANIFEST_META):
        msg = f"manifest metadata keys {sorted(meta)} differ from MANIFEST_META {sorted(MANIFEST_META)}"
        raise ValueError(msg)
    table = table.replace_schema_metadata({k.encode(): v.encode() for k, v in meta.items()})
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".tmp-{uuid.uuid4().hex}-{path.name}")
    pq.write_table(table, tmp)
    os.replace(tmp, path)
    return path


def read_manifest_meta(path: Path) -> dict[str, str]:
    raw = pq.read_schema(path).metadata or {}
    return {k.decode(): v.decode() for k, v in raw.items()}
