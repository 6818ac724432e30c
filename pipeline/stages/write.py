"""``write``: each batch becomes write-once cache shards (text features first, then prior rows,
one shard per prior kind), so a killed run keeps every batch that finished. A structured answer
(events, query rewrites) is expanded here into its request row and item rows, in one shard, so
they land together or not at all. Returns a slim summary batch (no images, no vectors) for the
run report."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import pyarrow as pa

from groundwork.cache.layout import PRIOR_SCHEMA, TEXT_FEATURE_SCHEMA
from groundwork.cache.store import CacheStore
from groundwork.cache.hashing import sha256_text
from pipeline.stages.base import Batch, Resources, Stage
from pipeline.kinds.structured import item_key, items_from_json

HEAVY = {"images", "sentence", "tokens", "prompt", "prompt_vars", "frame_times", "text", "raw", "requests", "planned",
         "items"}


def _ids(ids: Any, n_tokens: int) -> np.ndarray | None:
    """A text's token ids, or None (null: not recorded) when the encoder gave none."""
    arr = np.asarray(ids, np.int32).reshape(-1)
    return arr if len(arr) == n_tokens else None


def text_feature_table(batch: Batch, encoder: str) -> pa.Table:
    rows = [i for i, e in enumerate(batch["embedded"]) if e]
    ids = batch.get("token_ids")  # absent (a batch from an encoder stage without ids): null ids
    return pa.table({
        "text_sha256": [str(batch["text_sha256"][i]) for i in rows],
        "encoder": [encoder] * len(rows),
        "text": [str(batch["text"][i]) for i in rows],
        "dim": [int(batch["dim"][i]) for i in rows],
        "sentence": [np.asarray(batch["sentence"][i], np.float32) for i in rows],
        "n_tokens": [int(batch["n_tokens"][i]) for i in rows],
        "tokens": [np.asarray(batch["tokens"][i], np.float32) for i in rows],
        "token_ids": [None if ids is None else _ids(ids[i], int(batch["n_tokens"][i])) for i in rows],
    }, schema=TEXT_FEATURE_SCHEMA)


ROW_COLUMNS = ("key", "kind", "video_id", "video_sha256", "query_id", "t_start", "t_end", "text", "text_sha256",
               "n_prompt_tokens", "n_output_tokens", "latency_ms", "status", "error_type", "error", "raw")


def prior_rows(batch: Batch, i: int) -> list[dict[str, Any]]:
    """The prior rows of one answered request: itself, or for an ok structured answer its
    request row (text "") followed by one row per item (``pipeline.kinds.structured``)."""
    row = {c: batch[c][i] for c in ROW_COLUMNS}
    row["sampling_used"] = str(batch["sampling_used"][i])
    items = str(batch["items"][i])
    if row["status"] != "ok" or not items:  # plain text, or a failed request: the row itself
        return [row]
    out = [row]
    for k, item in enumerate(items_from_json(items)):
        out.append({**row, "key": item_key(str(row["key"]), k), "t_start": item.t_start, "t_end": item.t_end,
                    "text": item.text, "text_sha256": sha256_text(item.text),
                    "n_prompt_tokens": 0, "n_output_tokens": 0, "latency_ms": 0.0})
    return out


def prior_table(rows: list[dict[str, Any]], provenance: Mapping[str, Any], created_at: str) -> pa.Table:
    def col(name: str, cast: type) -> list:
        return [cast(r[name]) for r in rows]

    n = len(rows)
    return pa.table({
        "key": col("key", str), "kind": col("kind", str), "video_id": col("video_id", str),
        "video_sha256": col("video_sha256", str), "query_id": col("query_id", str),
        "t_start": col("t_start", float), "t_end": col("t_end", float),
        "text": col("text", str), "text_sha256": col("text_sha256", str),
        "model": [provenance["model"]] * n, "model_revision": [provenance["model_revision"]] * n,
        "prompt_id": [provenance["prompt_id"]] * n, "prompt_version": [provenance["prompt_version"]] * n,
        "prompt_sha256": [provenance["prompt_sha256"]] * n,
        "sampling": [r["sampling_used"] or provenance["sampling"] for r in rows],  # a retry's own sampling
        "backend": [provenance["backend"]] * n,
        "n_prompt_tokens": col("n_prompt_tokens", int), "n_output_tokens": col("n_output_tokens", int),
        "latency_ms": col("latency_ms", float), "status": col("status", str),
        "error_type": col("error_type", str), "error": col("error", str), "raw": col("raw", str),
        "created_at": [created_at] * n,
    }, schema=PRIOR_SCHEMA)


TEXT_COLUMNS = ("embedded", "text_sha256", "text", "dim", "sentence", "n_tokens", "tokens", "token_ids")


class WriteTextStage(Stage):
    """Text features only (the pass that embeds query texts and priors cached earlier)."""

    name: ClassVar[str] = "write_text"
    reads: ClassVar[tuple[str, ...]] = TEXT_COLUMNS
    writes: ClassVar[tuple[str, ...]] = ("shards",)

    def __init__(self, cache_root: Path, encoder: str, resources: Resources = Resources(cpus=0.25, batch_size=32)) -> None:
        self.cache_root = Path(cache_root)
        self.encoder = encoder
        self.resources = resources

    def write(self, batch: Batch, store: CacheStore) -> int:
        """Write the batch's new text features; returns the number of shards written."""
        if not any(batch["embedded"]):
            return 0
        store.write_text_features(self.encoder, text_feature_table(batch, self.encoder))
        return 1

    def process_batch(self, batch: Batch) -> Batch:
        shards = self.write(batch, CacheStore(self.cache_root))
        n = len(batch["text_sha256"])
        slim = {k: v for k, v in batch.items() if k not in HEAVY}
        return {**slim, "shards": [shards if i == 0 else 0 for i in range(n)]}


class WriteStage(WriteTextStage):
    """Text features, then the prior rows of the batch, one shard per prior kind."""

    name: ClassVar[str] = "write"
    reads: ClassVar[tuple[str, ...]] = tuple(dict.fromkeys((*TEXT_COLUMNS, *ROW_COLUMNS, "items", "sampling_used")))

    def __init__(self, cache_root: Path, encoder: str, provenance: Mapping[str, Mapping[str, Any]],
                 resources: Resources = Resources(cpus=0.25, batch_size=32)) -> None:
        """``provenance[kind]``: model, model_revision, prompt_*, sampling (JSON), backend."""
        super().__init__(cache_root, encoder, resources)
        self.provenance = dict(provenance)

    def write(self, batch: Batch, store: CacheStore) -> int:
        shards = super().write(batch, store)
        created = datetime.now(timezone.utc).isoformat(timespec="seconds")
        kinds = [str(k) for k in batch["kind"]]
        for kind in sorted(set(kinds)):
            rows = [r for i in range(len(kinds)) if kinds[i] == kind for r in prior_rows(batch, i)]
            store.write_priors(kind, prior_table(rows, self.provenance[kind], created))
            shards += 1
        return shards
