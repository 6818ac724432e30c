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
from groundwork.cache.store import SENTENCE_COLUMNS, CacheStore, write_shard
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


def test_a_bank_of_full_rows_and_sentence_only_rows(tmp_path: Path) -> None:
    store = CacheStore(tmp_path)
    write_shard(store.text_dir("e"), _v1_table(["one two", "three four", "five six"]))
    bank = TextBank.from_tables(store.text_features("e", {"sha0"}),
                                store.text_features("e", {"sha1", "sha2"}, columns=SENTENCE_COLUMNS), "e", "cache/e")
    assert sorted(bank.index) == ["sha0", "sha1", "sha2"] and bank.sentences.shape == (3, 2)
    np.testing.assert_array_equal(bank.sentence("sha2"), [0.0, 1.0])
    assert bank.token_vectors("sha0").shape == (2, 2) and bank.tokens.shape == (2, 2)  # sha1, sha2: no tokens read
    with pytest.raises(KeyError, match=r"narrative k1: its token vectors were not loaded .*cache/e"):
        bank.token_vectors("sha1", "narrative k1")
    with pytest.raises(MissingInputError):
        bank.token_ids("sha2", "narrative k2")
    full = TextBank.from_table(store.text_features("e"), "e")
    assert full.has_tokens is None and full.token_vectors("sha1").shape == (2, 2)


def test_a_dataset_reads_token_vectors_for_its_queries_only(tmp_path: Path) -> None:
    corpus = build_tiny_corpus(tmp_path)
    info = read_manifest(corpus.manifest)
    store = open_video_store(info, [str(corpus.features)])
    ds = GroundingDataset(info, "train", store, 16)
    queries = {r["query_sha256"] for r in ds.rows}
    assert ds.text.has_tokens is not None
    assert {sha for sha, r in ds.text.index.items() if ds.text.has_tokens[r]} == queries  # priors: sentences only
    everything = TextBank.from_table(CacheStore(corpus.cache_dir).text_features(ENCODER), ENCODER)
    for sha, r in ds.text.index.items():
        np.testing.assert_array_equal(ds.text.sentences[r], everything.sentence(sha))
    sentences_only = GroundingDataset(info, "train", store, 16, fields=["query_sentence", "narratives"])
    assert not sentences_only.text.has_tokens.any()
