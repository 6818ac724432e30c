"""Token ids in the text bank: read from a version-2 cache; a version-1 shard (no ``token_ids``
column) still reads, as "no ids", and a model that needs ids gets an error naming the cache
folder and the fix."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest

from grounding.data.dataset import GroundingDataset, open_video_store, read_manifest
from grounding.data.textbank import TextBank
from groundwork.cache.layout import TEXT_FEATURE_SCHEMA
from groundwork.cache.store import CacheStore, write_shard
from groundwork.errors import MissingInputError
from tests.grounding.fixtures import ENCODER, build_tiny_corpus, synthetic_token_ids


def test_ids_from_a_version_2_cache(tmp_path: Path) -> None:
    corpus = build_tiny_corpus(tmp_path)
    info = read_manifest(corpus.manifest)
    ds = GroundingDataset(info, "train", open_video_store(info, [str(corpus.features)]), 16,
                          fields=["query_tokens", "query_token_ids"])
    item = ds[0]
    assert item["query_token_ids"].dtype == np.int64
    assert item["query_token_ids"].tolist() == synthetic_token_ids(item["query"])
    assert len(item["query_token_ids"]) == len(item["query_tokens"])


def _v1_table(texts: list[str]) -> pa.Table:
    v1 = pa.schema([f for f in TEXT_FEATURE_SCHEMA if f.name != "token_ids"])
    return pa.table({"text_sha256": [f"sha{i}" for i in range(len(texts))], "encoder": ["e"] * len(texts),
                     "text": texts, "dim": pa.array([2] * len(texts), pa.int32()),
                     "sentence": [[0.0, 1.0]] * len(texts), "n_tokens": pa.array([2] * len(texts), pa.int32()),
                     "tokens": [[0.0, 1.0, 2.0, 3.0]] * len(texts)}, schema=v1)


def test_a_version_1_shard_reads_as_no_ids(tmp_path: Path) -> None:
    store = CacheStore(tmp_path)
    write_shard(store.text_dir("e"), _v1_table(["one two", "three four"]))  # as an old pipeline wrote it
    bank = TextBank.from_table(store.text_features("e"), "e", str(store.text_dir("e")))
    assert bank.token_vectors("sha0").shape == (2, 2) and bank.ids_if_any("sha0") is None
    with pytest.raises(MissingInputError, match=r"no token ids.*delete that folder and run `priors run`") as err:
        bank.token_ids("sha1", "query q1")
    assert str(store.text_dir("e")) in str(err.value) and "query q1" in str(err.value)


def test_a_dataset_that_needs_ids_names_the_cache_folder(tmp_path: Path) -> None:
    corpus = build_tiny_corpus(tmp_path)
    folder = CacheStore(corpus.cache_dir).text_dir(ENCODER)
    table = CacheStore(corpus.cache_dir).text_features(ENCODER).drop_columns(["token_ids"])
    for shard in folder.glob("*.parquet"):
        shard.unlink()
    write_shard(folder, table)  # as an old pipeline wrote it
    info = read_manifest(corpus.manifest)
    store = open_video_store(info, [str(corpus.features)])
    assert len(GroundingDataset(info, "train", store, 16)[0]["query_tokens"])  # default fields: no ids needed
    ds = GroundingDataset(info, "train", store, 16, fields=["query_tokens", "query_token_ids"])
    with pytest.raises(MissingInputError, match=str(folder)):
        ds[0]
