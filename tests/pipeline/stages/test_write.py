from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow.parquet as pq

from groundwork.cache.hashing import sha256_text
from groundwork.cache.store import CacheStore
from pipeline.stages.write import WriteStage, WriteTextStage

PROV = {
    "model": "m",
    "model_revision": "r",
    "prompt_id": "narrate_frame",
    "prompt_version": 1,
    "prompt_sha256": "p",
    "sampling": "{}",
    "backend": "transformers",
}


def _batch(keys: list[str], kinds: list[str], status: list[str], texts: list[str]) -> dict:
    n = len(keys)
    dim = 4
    embedded = [s == "ok" for s in status]
    return {
        "key": keys,
        "kind": kinds,
        "video_id": ["v"] * n,
        "video_sha256": ["h"] * n,
        "query_id": [""] * n,
        "t_start": [float(i) for i in range(n)],
        "t_end": [float(i) for i in range(n)],
        "text": texts,
        "text_sha256": [sha256_text(t) if s == "ok" else "" for t, s in zip(texts, status)],
        "raw": [""] * n,
        "n_prompt_tokens": [10] * n,
        "n_output_tokens": [3] * n,
        "latency_ms": [1.0] * n,
        "status": status,
        "error_type": ["" if s == "ok" else "missing_video" for s in status],
        "error": ["" if s == "ok" else "decode: gone" for s in status],
        "images": [np.zeros((1, 2, 2, 3), np.uint8)] * n,
        "embedded": embedded,
        "dim": [dim] * n,
        "sentence": [np.ones(dim, np.float32)] * n,
        "n_tokens": [2] * n,
        "tokens": [np.ones(2 * dim, np.float32)] * n,
        "model_called": [True] * n,
        "n_decoded": [1] * n,
        "items": [""] * n,
        "sampling_used": [""] * n,
    }


def test_writes_one_shard_per_kind_plus_text_features(tmp_path: Path) -> None:
    stage = WriteStage(tmp_path, "enc", {"narrative": PROV, "clip_caption": {**PROV, "prompt_id": "caption_clip"}})
    out = stage.process_batch(
        _batch(["a", "b", "c"], ["narrative", "clip_caption", "narrative"], ["ok", "ok", "error"], ["one", "two", ""])
    )
    store = CacheStore(tmp_path)
    narr = store.priors("narrative").sort_by("key").to_pylist()
    assert [(r["key"], r["status"], r["prompt_id"]) for r in narr] == [
        ("a", "ok", "narrate_frame"),
        ("c", "error", "narrate_frame"),
    ]
    assert store.priors("clip_caption").column("prompt_id").to_pylist() == ["caption_clip"]
    text = store.text_features("enc").to_pylist()
    assert sorted(r["text"] for r in text) == ["one", "two"] and text[0]["n_tokens"] == 2
    assert len(text[0]["tokens"]) == 8
    assert out["shards"] == [3, 0, 0]
    assert "images" not in out and "tokens" not in out and out["key"] == ["a", "b", "c"]
    assert not list(tmp_path.rglob(".tmp-*"))


def test_ok_row_supersedes_error_row_whatever_the_shard_order(tmp_path: Path) -> None:
    stage = WriteStage(tmp_path, "enc", {"narrative": PROV})
    stage.process_batch(_batch(["k", "j"], ["narrative"] * 2, ["ok", "error"], ["fine", ""]))  # j fails
    stage.process_batch(_batch(["j"], ["narrative"], ["ok"], ["retried"]))  # --retry-errors
    stage.process_batch(_batch(["k"], ["narrative"], ["error"], [""]))  # a late error after an ok
    store = CacheStore(tmp_path)
    shards = sorted((tmp_path / "priors" / "narrative").glob("*.parquet"))
    assert len(shards) == 3 and sum(pq.read_metadata(p).num_rows for p in shards) == 4
    rows = {r["key"]: r for r in store.priors("narrative").to_pylist()}
    assert len(rows) == 2
    assert (rows["j"]["status"], rows["j"]["text"]) == ("ok", "retried")
    assert (rows["k"]["status"], rows["k"]["text"]) == ("ok", "fine")
    ok, errors = store.prior_key_status("narrative")
    assert ok == {"j", "k"} and errors == set()


def test_text_only_pass_writes_no_priors(tmp_path: Path) -> None:
    batch = _batch(["q"], ["narrative"], ["ok"], ["a query"])
    WriteTextStage(tmp_path, "enc").process_batch(
        {k: batch[k] for k in ("text", "text_sha256", "status", "embedded", "dim", "sentence", "n_tokens", "tokens")}
    )
    assert not (tmp_path / "priors").exists()
    assert CacheStore(tmp_path).text_hashes("enc") == {sha256_text("a query")}
