"""Compaction of the cache: merge a folder's small write-once shards into larger ones.

Every write of the pipeline adds a shard (``part-<uuid>.parquet``, one per write batch), so a
cache that several experiments share for months holds thousands of small files, and every read
opens each of them. ``compact_folder`` merges the small ones; ``priors compact`` runs it over
every prior kind, text encoder and the plan index.

Safe beside readers and writers of the same cache, without a lock:

- only the shards listed at the start are merged; a shard another run writes meanwhile is never
  touched (its rows are never deleted);
- the merged shard is written like any shard (``groundwork.atomic``: a ``.tmp-*`` name, then a
  rename), and only then are the merged-away shards deleted. At every moment each row is in a
  complete shard; a reader sees the old shards, the old ones and the merged one (the same keys
  twice, which readers already dedupe), or the merged one. A reader that listed a shard which
  vanished before it read it lists again (``groundwork.cache.store.read_shards``);
- two compactions of one folder at once: whichever finds a listed shard gone skips that group
  (``skipped`` says why); rows are safe either way, since nothing is deleted before the rows it
  held are in a shard written by the compaction that deletes it.

Which row a key keeps: for prior rows (``status`` and ``created_at`` columns) an ok row beats an
error row, then the newest wins; so a key keeps its newest ok row, and the error row of a key
that has no ok row among the merged shards. Other folders (text features, plans) are pure
functions of their key: the first row is kept.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import pyarrow as pa

from groundwork.cache.fs import CachePath
from groundwork.cache.layout import PRIOR_SCHEMA, TEXT_FEATURE_SCHEMA
from groundwork.cache.store import (
    TEXT_ROW_GROUP_ROWS,
    CacheStore,
    _dedupe_keys,
    _shards,
    conform,
    read_parquet,
    write_shard,
)

MiB = 1024 * 1024
SMALL_BYTES = 16 * MiB  # shards under this size are merged
TARGET_BYTES = 128 * MiB  # a merged shard gathers shards up to this many bytes (Parquet, on disk)


@dataclass(frozen=True)
class ShardFolder:
    """One folder of write-once shards: its rows' schema and key column."""

    path: CachePath
    schema: pa.Schema
    key: str
    label: str  # how reports name it, e.g. "priors/narrative"
    row_group_rows: int | None = None  # rows per Parquet row group of a merged shard (None: one group)


@dataclass
class FolderCompaction:
    """What ``compact_folder`` did to one folder (counts and bytes of every shard in it)."""

    folder: str
    shards_before: int = 0
    bytes_before: int = 0
    shards_after: int = 0
    bytes_after: int | None = 0  # None in a dry run (not known before the merged shards are written)
    merged: int = 0  # shards merged away
    written: int = 0  # merged shards written
    rows_in: int = 0  # rows of the merged-away shards
    rows_out: int = 0  # rows of the merged shards (duplicate keys dropped)
    skipped: list[str] = field(default_factory=list)  # groups left alone, and why
    seconds: float = 0.0

    def as_dict(self) -> dict:
        return asdict(self)


def cache_folders(store: CacheStore) -> list[ShardFolder]:
    """The shard folders of a cache: every prior kind, then every text encoder."""
    out = [ShardFolder(store.prior_dir(kind), PRIOR_SCHEMA, "key", f"priors/{kind}") for kind in store.prior_kinds()]
    text = store.root / "text"
    if text.is_dir():
        out += [
            ShardFolder(p, TEXT_FEATURE_SCHEMA, "text_sha256", f"text/{p.name}", TEXT_ROW_GROUP_ROWS)
            for p in sorted(text.iterdir())
            if p.is_dir()
        ]
    return out


def keep_rows(table: pa.Table, key: str) -> pa.Table:
    """One row per key, in the table's order. With ``status`` and ``created_at`` columns (prior
    rows): the newest ok row, else the newest error row; otherwise the first row."""
    if table.num_rows == 0:
        return table
    position = pa.array(np.arange(table.num_rows))
    ranked = table.append_column("_position", position)
    if "status" in table.column_names and "created_at" in table.column_names:
        is_error = (table.column("status").to_numpy(zero_copy_only=False) != "ok").astype(np.int8)
        ranked = ranked.append_column("_is_error", pa.array(is_error)).sort_by(
            [("_is_error", "ascending"), ("created_at", "descending"), ("_position", "ascending")]
        )
    kept = _dedupe_keys(ranked, key).column("_position").to_numpy()
    return table.take(pa.array(np.sort(kept)))


def _groups(shards: list[CachePath], sizes: dict[CachePath, int], target_bytes: int) -> list[list[CachePath]]:
    """Consecutive runs of shards (oldest first) whose sizes add up to at most ``target_bytes``."""
    groups: list[list[Path]] = [[]]
    total = 0
    for shard in shards:
        if groups[-1] and total + sizes[shard] > target_bytes:
            groups.append([])
            total = 0
        groups[-1].append(shard)
        total += sizes[shard]
    return [g for g in groups if len(g) >= 2]


def _sizes(folder: CachePath) -> dict[CachePath, int]:
    out = {}
    for shard in _shards(folder):
        try:
            out[shard] = shard.stat().st_size
        except FileNotFoundError:  # merged away by another compaction since the listing
            pass
    return out


def compact_folder(
    folder: ShardFolder, small_bytes: int = SMALL_BYTES, target_bytes: int = TARGET_BYTES, dry_run: bool = False
) -> FolderCompaction:
    """Merge the folder's shards smaller than ``small_bytes`` into shards of up to about
    ``target_bytes`` (see the module docstring for why this is safe beside other runs).
    ``dry_run`` reports the groups it would merge and writes nothing."""
    start = time.perf_counter()
    sizes = _sizes(folder.path)
    report = FolderCompaction(str(folder.label), shards_before=len(sizes), bytes_before=sum(sizes.values()))
    small = [p for p in sizes if sizes[p] < small_bytes]
    small.sort(key=lambda p: (_mtime(p), p.name))
    for group in _groups(small, sizes, target_bytes):
        if dry_run:
            report.merged += len(group)
            report.written += 1
            continue
        try:
            parts = [conform(read_parquet(p), folder.schema) for p in group]
        except FileNotFoundError as exc:
            report.skipped.append(
                f"{len(group)} shards: {str(exc.filename or '?').rsplit('/', 1)[-1]} vanished since the "
                "listing (another compaction of this folder is running); left to it"
            )
            continue
        table = pa.concat_tables(parts)
        kept = keep_rows(table, folder.key)
        # complete and renamed into place before anything is deleted
        write_shard(folder.path, kept, folder.row_group_rows)
        for shard in group:
            shard.unlink(missing_ok=True)
        report.merged += len(group)
        report.written += 1
        report.rows_in += table.num_rows
        report.rows_out += kept.num_rows
    if dry_run:
        report.shards_after, report.bytes_after = report.shards_before - report.merged + report.written, None
    else:
        after = _sizes(folder.path)
        report.shards_after, report.bytes_after = len(after), sum(after.values())
    report.seconds = round(time.perf_counter() - start, 3)
    return report


def _mtime(path: CachePath) -> float:
    try:
        return path.stat().st_mtime
    except FileNotFoundError:
        return 0.0
