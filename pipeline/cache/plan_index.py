"""The plan index: for each (video content, planner identity and settings) fingerprint, the
keys the planner produced. A warm rerun then checks one fingerprint per video and kind instead
of hashing every request again. Stored as write-once shards in ``<cache>/plans/`` (like prior
shards); an entry is a pure function of its fingerprint, so duplicates are harmless."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from groundwork.cache.store import read_shards, write_shard

PLAN_INDEX_SCHEMA = pa.schema(
    [("fingerprint", pa.string()), ("keys", pa.list_(pa.string())), ("query_ids", pa.list_(pa.string()))]
)

Entry = list[tuple[str, str]]  # [(key, query_id), ...] in plan order


def plan_index_dir(root: Path) -> Path:
    return Path(root) / "plans"


def read_plan_index(root: Path) -> dict[str, Entry]:
    out: dict[str, Entry] = {}
    for table in read_shards(plan_index_dir(root), lambda p: pq.read_table(p, schema=PLAN_INDEX_SCHEMA)):
        for fp, keys, qids in zip(
            table.column("fingerprint").to_pylist(),
            table.column("keys").to_pylist(),
            table.column("query_ids").to_pylist(),
            strict=True,
        ):
            out[fp] = list(zip(keys, qids, strict=True))
    return out


def write_plan_index(root: Path, entries: dict[str, Entry]) -> Path | None:
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
