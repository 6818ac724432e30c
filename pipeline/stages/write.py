"""``write``: rows become write-once cache shards (text features first, then prior rows, per prior
kind). In the graph the write stage runs on the driver, the one writer of its run: it buffers
rows per cache folder and writes a shard when the ``FlushPolicy`` says so (tens of thousands of
rows, tens of MB or a few minutes, whichever first) and at the end of its input. A shard used to
be one Ray batch (32 rows, about 10 KB), so a real dataset's cache was thousands of tiny files.
A killed run keeps every shard written and loses what was buffered (see ``FlushPolicy``).

A structured answer (events, query rewrites) is expanded here into its request row and item
rows, buffered and written together, so they land together or not at all. Returns a slim
summary batch (no images, no vectors) for the run report."""

from __future__ import annotations

import time
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import pyarrow as pa

from groundwork.cache.fs import cache_location
from groundwork.cache.hashing import sha256_text
from groundwork.cache.layout import PRIOR_SCHEMA, TEXT_FEATURE_SCHEMA
from groundwork.cache.store import CacheStore
from pipeline.kinds.structured import item_key, items_from_json
from pipeline.stages.base import Batch, Resources, Stage

HEAVY = {
    "images",
    "sentence",
    "tokens",
    "prompt",
    "prompt_vars",
    "frame_times",
    "text",
    "raw",
    "requests",
    "planned",
    "items",
}


def _ids(ids: Any, n_tokens: int) -> np.ndarray | None:
    """A text's token ids, or None (null: not recorded) when the encoder gave none."""
    arr = np.asarray(ids, np.int32).reshape(-1)
    return arr if len(arr) == n_tokens else None


def text_feature_table(batch: Batch, encoder: str) -> pa.Table:
    rows = [i for i, e in enumerate(batch["embedded"]) if e]
    ids = batch.get("token_ids")  # absent (a batch from an encoder stage without ids): null ids
    return pa.table(
        {
            "text_sha256": [str(batch["text_sha256"][i]) for i in rows],
            "encoder": [encoder] * len(rows),
            "text": [str(batch["text"][i]) for i in rows],
            "dim": [int(batch["dim"][i]) for i in rows],
            "sentence": [np.asarray(batch["sentence"][i], np.float32) for i in rows],
            "n_tokens": [int(batch["n_tokens"][i]) for i in rows],
            "tokens": [np.asarray(batch["tokens"][i], np.float32) for i in rows],
            "token_ids": [None if ids is None else _ids(ids[i], int(batch["n_tokens"][i])) for i in rows],
        },
        schema=TEXT_FEATURE_SCHEMA,
    )


ROW_COLUMNS = (
    "key",
    "kind",
    "video_id",
    "video_sha256",
    "query_id",
    "t_start",
    "t_end",
    "text",
    "text_sha256",
    "n_prompt_tokens",
    "n_output_tokens",
    "latency_ms",
    "status",
    "error_type",
    "error",
    "raw",
)


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
        out.append(
            {
                **row,
                "key": item_key(str(row["key"]), k),
                "t_start": item.t_start,
                "t_end": item.t_end,
                "text": item.text,
                "text_sha256": sha256_text(item.text),
                "n_prompt_tokens": 0,
                "n_output_tokens": 0,
                "latency_ms": 0.0,
            }
        )
    return out


def prior_table(rows: list[dict[str, Any]], provenance: Mapping[str, Any], created_at: str) -> pa.Table:
    def col(name: str, cast: type) -> list:
        return [cast(r[name]) for r in rows]

    n = len(rows)
    return pa.table(
        {
            "key": col("key", str),
            "kind": col("kind", str),
            "video_id": col("video_id", str),
            "video_sha256": col("video_sha256", str),
            "query_id": col("query_id", str),
            "t_start": col("t_start", float),
            "t_end": col("t_end", float),
            "text": col("text", str),
            "text_sha256": col("text_sha256", str),
            "model": [provenance["model"]] * n,
            "model_revision": [provenance["model_revision"]] * n,
            "prompt_id": [provenance["prompt_id"]] * n,
            "prompt_version": [provenance["prompt_version"]] * n,
            "prompt_sha256": [provenance["prompt_sha256"]] * n,
            "sampling": [r["sampling_used"] or provenance["sampling"] for r in rows],  # a retry's own sampling
            "backend": [provenance["backend"]] * n,
            "n_prompt_tokens": col("n_prompt_tokens", int),
            "n_output_tokens": col("n_output_tokens", int),
            "latency_ms": col("latency_ms", float),
            "status": col("status", str),
            "error_type": col("error_type", str),
            "error": col("error", str),
            "raw": col("raw", str),
            "created_at": [created_at] * n,
        },
        schema=PRIOR_SCHEMA,
    )


TEXT_COLUMNS = ("embedded", "text_sha256", "text", "dim", "sentence", "n_tokens", "tokens", "token_ids")


@dataclass(frozen=True)
class FlushPolicy:
    """When buffered rows become a shard. A folder's buffer is written as one shard as soon as it
    holds ``rows`` rows or ``megabytes`` MB (Arrow size in memory, about the Parquet size for
    vectors), or its oldest row waited ``seconds`` (checked as each batch arrives), and always at
    the end of the input (``WriteTextStage.flush``). A run killed in between loses what was
    buffered: at most that many rows, bytes or seconds of results per folder (and what was in
    flight in the graph), which the rerun generates again; everything flushed stays. The
    default, ``FlushPolicy()``, writes every batch at once (one shard per batch and folder)."""

    rows: int = 1
    megabytes: float = 0.0
    seconds: float = 0.0

    def due(self, rows: int, nbytes: int, age_s: float) -> bool:
        return (
            rows >= self.rows
            or (self.megabytes > 0 and nbytes >= self.megabytes * 2**20)
            or (self.seconds > 0 and age_s >= self.seconds)
        )


@dataclass
class _Buffer:
    tables: list[pa.Table] = field(default_factory=list)
    rows: int = 0
    nbytes: int = 0
    since: float = 0.0  # monotonic time of its oldest row


class WriteTextStage(Stage):
    """Text features only (the pass that embeds query texts and priors cached earlier).

    Buffers rows per cache folder and writes a folder's buffer as one write-once shard when the
    ``FlushPolicy`` says so; ``flush()`` writes the rest. In the graph it runs on the driver
    (``stream``), after a Ray-side ``SlimStage``, so one writer per run makes few, large shards."""

    name: ClassVar[str] = "write_text"
    reads: ClassVar[tuple[str, ...]] = TEXT_COLUMNS
    writes: ClassVar[tuple[str, ...]] = ("shards",)

    def __init__(
        self,
        cache_root: Path,
        encoder: str,
        resources: Resources = Resources(cpus=0.25, batch_size=32),
        policy: FlushPolicy = FlushPolicy(),
    ) -> None:
        self.cache_root = cache_location(cache_root)
        self.encoder = encoder
        self.resources = resources
        self.policy = policy
        self.buffers: dict[tuple[str, str], _Buffer] = {}  # ("text", encoder) / ("priors", kind) -> rows
        self.shard_sizes: list[tuple[int, int]] = []  # (rows, bytes on disk) of every shard written

    def tables(self, batch: Batch) -> list[tuple[tuple[str, str], pa.Table]]:
        """The batch's rows per cache folder: its new text features."""
        if not any(batch["embedded"]):
            return []
        return [(("text", self.encoder), text_feature_table(batch, self.encoder))]

    def add(self, folder: tuple[str, str], table: pa.Table) -> None:
        """Buffer ``table`` for ``folder`` (``("text", encoder)`` or ``("priors", kind)``)."""
        if table.num_rows == 0:
            return
        buf = self.buffers.setdefault(folder, _Buffer())
        if not buf.tables:
            buf.since = time.monotonic()
        buf.tables.append(table)
        buf.rows += table.num_rows
        buf.nbytes += table.nbytes

    def flush(self, due_only: bool = False) -> int:
        """Write buffered rows as shards (text features first, so that prior rows on disk find
        their texts' features); ``due_only``: only the folders the policy says are due (and the
        text features, whenever a prior folder is). Returns the number of shards written."""
        now = time.monotonic()
        due = {
            f
            for f, b in self.buffers.items()
            if b.tables and (not due_only or self.policy.due(b.rows, b.nbytes, now - b.since))
        }
        text = ("text", self.encoder)
        if any(f[0] == "priors" for f in due) and text in self.buffers and self.buffers[text].tables:
            due.add(text)
        store = CacheStore(self.cache_root)
        for folder in sorted(due, key=lambda f: (f[0] != "text", f)):
            buf = self.buffers.pop(folder)
            table = pa.concat_tables(buf.tables)
            path = (
                store.write_text_features(folder[1], table)
                if folder[0] == "text"
                else store.write_priors(folder[1], table)
            )
            self.shard_sizes.append((table.num_rows, path.stat().st_size))
        return len(due)

    def process_batch(self, batch: Batch) -> Batch:
        for folder, table in self.tables(batch):
            self.add(folder, table)
        shards = self.flush(due_only=True)
        n = len(batch["text_sha256"])
        slim = {k: v for k, v in batch.items() if k not in HEAVY}
        return {**slim, "shards": [shards if i == 0 else 0 for i in range(n)]}

    def stream(self, batches: Iterable[Batch]) -> Iterator[Batch]:
        """Run on the driver over the graph's output batches, timed as stage ``write``; what is
        still buffered is written when the input ends (or fails: finished rows are kept)."""
        try:
            for batch in batches:
                start = time.perf_counter()
                out = self.process_batch(batch)
                n = len(out["shards"])
                if n:
                    out[f"_s_{self.name}"] = [(time.perf_counter() - start) / n] * n
                yield out
        finally:
            self.flush()


class WriteStage(WriteTextStage):
    """Text features, then the prior rows of the batch, per prior kind."""

    name: ClassVar[str] = "write"
    reads: ClassVar[tuple[str, ...]] = tuple(dict.fromkeys((*TEXT_COLUMNS, *ROW_COLUMNS, "items", "sampling_used")))

    def __init__(
        self,
        cache_root: Path,
        encoder: str,
        provenance: Mapping[str, Mapping[str, Any]],
        resources: Resources = Resources(cpus=0.25, batch_size=32),
        policy: FlushPolicy = FlushPolicy(),
    ) -> None:
        """``provenance[kind]``: model, model_revision, prompt_*, sampling (JSON), backend."""
        super().__init__(cache_root, encoder, resources, policy)
        self.provenance = dict(provenance)

    def tables(self, batch: Batch) -> list[tuple[tuple[str, str], pa.Table]]:
        out = super().tables(batch)
        created = datetime.now(timezone.utc).isoformat(timespec="seconds")
        kinds = [str(k) for k in batch["kind"]]
        for kind in sorted(set(kinds)):
            rows = [r for i in range(len(kinds)) if kinds[i] == kind for r in prior_rows(batch, i)]
            out.append((("priors", kind), prior_table(rows, self.provenance[kind], created)))
        return out


class SlimStage(Stage):
    """Drops what nothing after generation reads (frames, prompts, planned requests) on the Ray
    side, so that only the rows the driver-side write stage and the run report need cross to the
    driver."""

    name: ClassVar[str] = "slim"
    DROP: ClassVar[frozenset[str]] = frozenset(
        {"images", "prompt", "prompt_vars", "frame_times", "requests", "planned", "queries"}
    )

    def __init__(self, resources: Resources = Resources(cpus=0.25, batch_size=32)) -> None:
        self.resources = resources

    def process_batch(self, batch: Batch) -> Batch:
        return {k: v for k, v in batch.items() if k not in self.DROP}
