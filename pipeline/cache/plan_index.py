"""The plan index: for each (video content, planner identity and settings) fingerprint, the
keys the planner produced. A warm rerun then checks one fingerprint per video and kind instead
of hashing every request again. Stored as write-once shards in ``<cache>/plans/`` (like prior
shards); an entry is a pure function of its fingerprint, so duplicates are harmless."""

from __future__ import annotations

import pyarrow as pa

from groundwork.cache.fs import CachePath, cache_location
from groundwork.cache.store import read_parquet, read_shards, write_shard

PLAN_INDEX_SCHEMA = pa.schema(
    [("fingerprint", pa.string()), ("keys", pa.list_(pa.string())), ("query_ids", pa.list_(pa.string()))]
)

Entry = list[tuple[str, str]]  # [(key, query_id), ...] in plan order


def plan_index_dir(root: CachePath) -> CachePath:
    return cache_location(root) / "plans"


def read_plan_index(root: CachePath) -> dict[str, Entry]:
    out: dict[str, Entry] = {}
    for table in read_shards(plan_index_dir(root), lambda p: read_parquet(p, schema=PLAN_INDEX_SCHEMA)):
        for fp, keys, qids in zip(
            table.column("fingerprint").to_pylist(),
            table.column("keys").to_pylist(),
            table.column("query_ids").to_pylist(),
            strict=True,
        ):
            out[fp] = list(zip(keys, qids, strict=True))
    return out


def write_plan_index(root: CachePath, entries: dict[str, Entry]) -> CachePath | None:
    if not entries:
        return None
    fps = sorted(entries)
    table = pa.table(
        {
            "fingerprint": fps,
            "keys": [[k for k, _ in entries[f]] for f in fps],
            "query_ids": [[q for _, q in entries[f]] for f in fps],
        },
        schema=PLAN_INDEX_SCHEMA,
    )
    return write_shard(plan_index_dir(root), table)
