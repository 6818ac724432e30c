"""Text schema version 2: the embed and write stages carry each token's tokenizer id into the
cache beside its vector; an encoder without ids writes null ids."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from groundwork.cache.hashing import sha256_text
from groundwork.cache.layout import TEXT_FEATURE_SCHEMA, TEXT_SCHEMA_VERSION
from groundwork.cache.store import CacheStore
from pipeline.features.text import EncodedText
from pipeline.stages.embed import EmbedStage
from pipeline.stages.write import WriteTextStage


class FakeIdEncoder:
    """Fake: fixed vectors and one id per word (loading MiniLM takes seconds)."""

    name, dim = "fake-ids", 3

    def __init__(self, with_ids: bool = True) -> None:
        self.with_ids = with_ids

    def setup(self) -> None: ...

    def encode(self, texts: list[str]) -> list[EncodedText]:
        out = []
        for t in texts:
            words = t.split()
            ids = np.array([100 + len(w) for w in words], np.int32) if self.with_ids else None
            out.append(EncodedText(np.ones(3, np.float32), np.ones((len(words), 3), np.float32), ids))
        return out


def _run(tmp_path: Path, with_ids: bool) -> dict:
    texts = ["a red circle", "it moves"]
    batch = {"text": texts, "text_sha256": [sha256_text(t) for t in texts], "status": ["ok", "ok"]}
    embedded = EmbedStage(lambda: FakeIdEncoder(with_ids)).process_batch(batch)
    WriteTextStage(tmp_path, "fake-ids").process_batch(embedded)
    table = CacheStore(tmp_path).text_features("fake-ids")
    return {r["text"]: r for r in table.to_pylist()}


def test_ids_are_written_beside_the_vectors(tmp_path: Path) -> None:
    rows = _run(tmp_path, with_ids=True)
    assert rows["a red circle"]["token_ids"] == [101, 103, 106] and rows["it moves"]["token_ids"] == [102, 105]
    assert rows["a red circle"]["n_tokens"] == 3
    assert TEXT_FEATURE_SCHEMA.metadata[b"groundwork.text_schema_version"] == str(TEXT_SCHEMA_VERSION).encode()


def test_an_encoder_without_ids_writes_null(tmp_path: Path) -> None:
    rows = _run(tmp_path, with_ids=False)
    assert rows["a red circle"]["token_ids"] is None and len(rows["a red circle"]["tokens"]) == 9
