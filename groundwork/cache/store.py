"""Read and write the content-addressed cache (layout in ``groundwork.cache.layout``).

Pure pyarrow: importing this module loads no model code, so both halves use it.
"""

from __future__ import annotations

import os
import time
import uuid
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from groundwork.atomic import atomic_write
from groundwork.cache.fs import CachePath, StorePath, cache_location, gone_as_not_found
from groundwork.cache.layout import KIND_NAME, PRIOR_SCHEMA, TEXT_FEATURE_SCHEMA


def default_cache_dir(cache: str | os.PathLike | None = None) -> CachePath:
    """``--cache`` if given, else ``$GROUNDWORK_CACHE``, else ``~/.cache/groundwork``: a local path,
    or a URI of any file system pyarrow can write (``s3://bucket/prefix``: ``groundwork.cache.fs``)."""
    if cache:
        return cache_location(cache)
    env = os.environ.get("GROUNDWORK_CACHE")
    if env:
        return cache_location(env)
    return Path.home() / ".cache" / "groundwork"


def read_parquet(path: CachePath, **kwargs) -> pa.Table:
    """``pq.read_table`` of a shard on local disk or any pyarrow file system."""
    with gone_as_not_found(path):
        if isinstance(path, StorePath):
            return pq.read_table(path.path, filesystem=path.fs, **kwargs)
        return pq.read_table(path, **kwargs)


def _shards(folder: CachePath) -> list[CachePath]:
    if not folder.is_dir():
        return []
    return sorted(p for p in folder.glob("*.parquet") if not p.name.startswith("."))


def read_shards(folder: CachePath, read: Callable[[CachePath], pa.Table], attempts: int = 8) -> list[pa.Table]:
    """``read(shard)`` for every shard of ``folder``, safe beside ``priors compact``
    (``groundwork.cache.compact``), which writes a merged shard before it deletes the shards merged:
    a shard gone before it was read means list again. The folder is listed twice: a listing that
    runs while a merged shard appears and a merged-away one goes may hold neither, and then the
    earlier listing names a shard the later one lacks, so the read starts again, after a wait that
    doubles each time (5 ms, 10 ms, ... 0.64 s over 8 attempts)."""
    for attempt in range(attempts):
        earlier = set(_shards(folder))
        shards = _shards(folder)
        try:
            if not earlier - set(shards):
                return [read(p) for p in shards]
        except FileNotFoundError:
            if attempt == attempts - 1:
                raise
        time.sleep(0.005 * 2**attempt)  # back off: a compaction in progress finishes its group meanwhile
    msg = f"{folder}: its shards kept changing over {attempts} listings (several compactions at once?)"
    raise RuntimeError(msg)


# The columns of a text-feature row without its token vectors (and their ids).
SENTENCE_COLUMNS = ("text_sha256", "sentence", "dim")

# Text-feature rows carry every token's vector (~60 KB a text): shards are written in row groups of
# this many rows, so a reader that wants a few texts decodes only the groups that hold them.
TEXT_ROW_GROUP_ROWS = 256


def write_shard(folder: CachePath, table: pa.Table, row_group_rows: int | None = None) -> CachePath:
    """Write a write-once shard ``part-<uuid>.parquet`` atomically (``groundwork.atomic``), in row
    groups of ``row_group_rows`` (None: Parquet's default, one group for a shard of this size)."""
    return atomic_write(
        cache_location(folder) / f"part-{uuid.uuid4().hex}.parquet",
        lambda tmp: pq.write_table(table, tmp, row_group_size=row_group_rows),
    )


def conform(table: pa.Table, schema: pa.Schema) -> pa.Table:
    """``table`` with ``schema``'s columns in its order: a column an older shard lacks comes back
    null (the cache's schemas only ever add nullable columns)."""
    columns = [
        table.column(f.name).cast(f.type) if f.name in table.column_names else pa.nulls(table.num_rows, f.type)
        for f in schema
    ]
    return pa.Table.from_arrays(columns, schema=schema)


def select_schema(schema: pa.Schema, columns: Sequence[str] | None) -> pa.Schema:
    """``schema`` cut to ``columns`` (in their order); None keeps every column."""
    return schema if columns is None else pa.schema([schema.field(c) for c in columns])


def read_matching(
    path: CachePath, schema: pa.Schema, column: str, values: pa.Array, columns: Sequence[str] | None = None
) -> pa.Table:
    """The rows of shard ``path`` whose ``column`` is in ``values`` (only ``columns`` of them, when
    given). The key column is read first (a few KB); a shard without a match costs nothing more,
    and of one with matches only the row groups that hold them are decoded."""
    with gone_as_not_found(path):
        shard = pq.ParquetFile(path.path, filesystem=path.fs) if isinstance(path, StorePath) else pq.ParquetFile(path)
    schema = select_schema(schema, columns)
    keys = shard.read(columns=[column]).column(column)
    hits = pc.is_in(keys, value_set=values)
    if not pc.any(hits).as_py():
        return schema.empty_table()
    groups, masks, start = [], [], 0
    for i in range(shard.num_row_groups):
        n = shard.metadata.row_group(i).num_rows
        mask = hits.slice(start, n)
        if pc.any(mask).as_py():
            groups.append(i)
            masks += mask.chunks if isinstance(mask, pa.ChunkedArray) else [mask]
        start += n
    present = [c for c in schema.names if c in shard.schema_arrow.names]
    table = shard.read_row_groups(groups, columns=present)
    return conform(table.filter(pa.chunked_array(masks, pa.bool_())), schema)


def _dedupe_keys(table: pa.Table, column: str) -> pa.Table:
    """Keep the first row of each key (several shards may hold the same one)."""
    if table.num_rows == 0:
        return table
    keys = table.column(column).to_numpy(zero_copy_only=False)
    _, first = np.unique(keys, return_index=True)
    return table.take(pa.array(np.sort(first)))


def _ok_first(table: pa.Table) -> pa.Table:
    """Stable reorder putting status == "ok" rows first, so an ok row supersedes an error row
    of the same key (a --retry-errors rerun) whatever order the shards are read in."""
    if table.num_rows == 0 or "status" not in table.column_names:
        return table
    is_error = (table.column("status").to_numpy(zero_copy_only=False) != "ok").astype(np.int8)
    return table.take(pa.array(np.argsort(is_error, kind="stable")))


def _read(
    folder: CachePath,
    schema: pa.Schema,
    key_column: str,
    filter_column: str | None = None,
    values: Iterable[str] | None = None,
    prefer_ok: bool = False,
    columns: Sequence[str] | None = None,
) -> pa.Table:
    schema_out = select_schema(schema, columns)
    if values is None:
        parts = read_shards(folder, lambda p: read_parquet(p, schema=schema, columns=schema_out.names))
    else:
        wanted = pa.array(list(values), pa.string())
        if len(wanted) == 0:  # nothing asked for: no shard's key column need be read
            return schema_out.empty_table()
        parts = read_shards(folder, lambda p: read_matching(p, schema, filter_column or key_column, wanted, columns))
    if not parts:
        return schema_out.empty_table()
    table = pa.concat_tables(parts)
    return _dedupe_keys(_ok_first(table) if prefer_ok else table, key_column)


class CacheStore:
    """The cache root. ``priors(kind)`` and ``text_features(encoder)`` read every shard."""

    def __init__(self, root: str | os.PathLike | None = None) -> None:
        self.root = default_cache_dir(root)

    # -- priors -----------------------------------------------------------------
    def prior_dir(self, kind: str) -> CachePath:
        if not KIND_NAME.match(kind):
            msg = f"prior kind {kind!r} is not a valid name (lower-case letters, digits and '_')"
            raise ValueError(msg)
        return self.root / "priors" / kind

    def prior_kinds(self) -> list[str]:
        """The prior kinds that have a folder in this cache."""
        folder = self.root / "priors"
        return (
            sorted(p.name for p in folder.iterdir() if p.is_dir() and KIND_NAME.match(p.name))
            if folder.is_dir()
            else []
        )

    def write_priors(self, kind: str, table: pa.Table) -> CachePath:
        return write_shard(self.prior_dir(kind), table.cast(PRIOR_SCHEMA))

    def priors(self, kind: str, keys: Iterable[str] | None = None) -> pa.Table:
        """One row per key; an ok row beats an error row of the same key."""
        return _read(self.prior_dir(kind), PRIOR_SCHEMA, "key", values=keys, prefer_ok=True)

    def prior_key_status(self, kind: str) -> tuple[set[str], set[str]]:
        """(keys with an ok row, keys with only error rows), from the key and status columns."""
        parts = read_shards(self.prior_dir(kind), lambda p: read_parquet(p, columns=["key", "status"]))
        if not parts:
            return set(), set()
        table = pa.concat_tables(parts)
        keys = table.column("key").to_numpy(zero_copy_only=False)
        ok_mask = table.column("status").to_numpy(zero_copy_only=False) == "ok"
        ok = set(keys[ok_mask].tolist())
        return ok, set(keys[~ok_mask].tolist()) - ok

    def prior_keys(self, kind: str) -> set[str]:
        """Every key present (ok and error rows), read from the key column only."""
        keys: set[str] = set()
        for part in read_shards(self.prior_dir(kind), lambda p: read_parquet(p, columns=["key"])):
            keys.update(part.column("key").to_pylist())
        return keys

    # -- text features ------------------------------------------------------------
    def text_dir(self, encoder: str) -> CachePath:
        return self.root / "text" / encoder.replace("/", "__")

    def write_text_features(self, encoder: str, table: pa.Table) -> CachePath:
        return write_shard(self.text_dir(encoder), table.cast(TEXT_FEATURE_SCHEMA), TEXT_ROW_GROUP_ROWS)

    def text_features(
        self, encoder: str, sha256s: Iterable[str] | None = None, columns: Sequence[str] | None = None
    ) -> pa.Table:
        """One row per text (of ``sha256s``; None: every text), with ``columns`` only when given
        (``SENTENCE_COLUMNS`` skips the token vectors, most of a row's bytes)."""
        if columns is not None and "text_sha256" not in columns:
            columns = ["text_sha256", *columns]
        return _read(self.text_dir(encoder), TEXT_FEATURE_SCHEMA, "text_sha256", values=sha256s, columns=columns)

    def text_hashes(self, encoder: str) -> set[str]:
        hashes: set[str] = set()
        for part in read_shards(self.text_dir(encoder), lambda p: read_parquet(p, columns=["text_sha256"])):
            hashes.update(part.column("text_sha256").to_pylist())
        return hashes

    # -- visual features ------------------------------------------------------------
    def visual_dir(self, extractor: str) -> CachePath:
        return self.root / "visual" / extractor.replace("/", "__")
