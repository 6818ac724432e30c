"""Filtered reads of the cache's shards: the key column first, then only the row groups that
hold a wanted key; the same rows as reading everything and filtering."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from groundwork.cache.layout import TEXT_FEATURE_SCHEMA
from groundwork.cache.store import SENTENCE_COLUMNS, TEXT_ROW_GROUP_ROWS, CacheStore, read_matching, write_shard

ENCODER = "enc"


def text_rows(shas: list[str], dim: int = 4) -> pa.Table:
    """Text-feature rows whose sentence vector's first value is the row's position."""
    n = len(shas)
    return pa.table(
        {
            "text_sha256": shas,
            "encoder": [ENCODER] * n,
            "text": [f"text {s}" for s in shas],
            "dim": [dim] * n,
            "sentence": [np.full(dim, i, np.float32) for i in range(n)],
            "n_tokens": [2] * n,
            "tokens": [np.full(2 * dim, i, np.float32) for i in range(n)],
            "token_ids": [np.array([i, i], np.int32) for i in range(n)],
        },
        schema=TEXT_FEATURE_SCHEMA,
    )


def test_text_shards_are_written_in_row_groups(tmp_path: Path) -> None:
    store = CacheStore(tmp_path)
    path = store.write_text_features(ENCODER, text_rows([f"s{i}" for i in range(TEXT_ROW_GROUP_ROWS * 2 + 3)]))
    groups = pq.ParquetFile(path).metadata
    assert groups.num_row_groups == 3 and groups.row_group(2).num_rows == 3


def test_a_filtered_read_equals_read_all_then_filter(tmp_path: Path) -> None:
    store = CacheStore(tmp_path)
    shas = [f"s{i:04d}" for i in range(3 * 40)]
    for part in range(3):  # three shards of 40 rows, in row groups of 16
        write_shard(store.text_dir(ENCODER), text_rows(shas[part * 40 : (part + 1) * 40]), 16)
    wanted = {"s0005", "s0050", "s0051", "s0119", "absent"}
    got = store.text_features(ENCODER, wanted)
    everything = store.text_features(ENCODER)
    expected = everything.filter(pa.compute.is_in(everything.column("text_sha256"), pa.array(sorted(wanted))))
    assert sorted(got.column("text_sha256").to_pylist()) == ["s0005", "s0050", "s0051", "s0119"]
    assert got.sort_by("text_sha256").equals(expected.sort_by("text_sha256"))
    assert got.schema == TEXT_FEATURE_SCHEMA


def test_only_the_row_groups_holding_a_key_are_decoded(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    store = CacheStore(tmp_path)
    hit = write_shard(store.text_dir(ENCODER), text_rows([f"a{i:02d}" for i in range(64)]), 16)
    miss = write_shard(store.text_dir(ENCODER), text_rows([f"b{i:02d}" for i in range(64)]), 16)
    decoded: list[list[int]] = []
    real = pq.ParquetFile.read_row_groups

    def spy(self: pq.ParquetFile, groups: list[int], *args: object, **kwargs: object) -> pa.Table:
        decoded.append(list(groups))
        return real(self, groups, *args, **kwargs)

    monkeypatch.setattr(pq.ParquetFile, "read_row_groups", spy)
    table = read_matching(hit, TEXT_FEATURE_SCHEMA, "text_sha256", pa.array(["a17", "a40"]))
    assert table.column("text_sha256").to_pylist() == ["a17", "a40"]
    assert decoded == [[1, 2]]  # rows 16-31 and 32-47 of four groups
    assert read_matching(miss, TEXT_FEATURE_SCHEMA, "text_sha256", pa.array(["a17"])).num_rows == 0
    assert len(decoded) == 1  # the shard without a match: its key column only


def test_a_version_1_shard_reads_with_null_token_ids(tmp_path: Path) -> None:
    store = CacheStore(tmp_path)
    old = text_rows(["s1", "s2"]).drop_columns(["token_ids"])
    folder = store.text_dir(ENCODER)
    folder.mkdir(parents=True)
    pq.write_table(old, folder / "part-old.parquet")
    got = store.text_features(ENCODER, {"s2"})
    assert got.schema == TEXT_FEATURE_SCHEMA and got.column("token_ids").to_pylist() == [None]
    assert got.column("sentence").to_pylist() == [[1.0] * 4]


def test_a_read_of_some_columns_skips_the_others(tmp_path: Path) -> None:
    store = CacheStore(tmp_path)
    write_shard(store.text_dir(ENCODER), text_rows([f"s{i}" for i in range(40)]), 16)
    every = store.text_features(ENCODER, {"s3", "s30"})
    some = store.text_features(ENCODER, {"s3", "s30"}, columns=SENTENCE_COLUMNS)
    assert some.column_names == list(SENTENCE_COLUMNS)
    assert some.sort_by("text_sha256").equals(every.select(list(SENTENCE_COLUMNS)).sort_by("text_sha256"))
    assert store.text_features(ENCODER, columns=["sentence"]).column_names == ["text_sha256", "sentence"]
    assert store.text_features(ENCODER, {"absent"}, columns=SENTENCE_COLUMNS).column_names == list(SENTENCE_COLUMNS)
