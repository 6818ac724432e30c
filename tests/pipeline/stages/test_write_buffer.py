"""The write stage's buffering (``FlushPolicy``): shards of many batches, flushed by rows, by size,
by age and at the end of the input, text features no later than the prior rows that need them."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest

from groundwork.cache.store import CacheStore
from pipeline.stages.write import FlushPolicy, SlimStage, WriteStage
from tests.pipeline.stages.test_write import PROV, _batch


def _batches(n: int, size: int) -> list[dict]:
    out = []
    for b in range(n):
        keys = [f"k{b:02d}-{i}" for i in range(size)]
        out.append(_batch(keys, ["narrative"] * size, ["ok"] * size, [f"text {k}" for k in keys]))
    return out


def _shard_rows(root: Path, folder: str) -> list[int]:
    return sorted(pq.read_metadata(p).num_rows for p in (root / folder).glob("*.parquet"))


def test_regression_one_shard_per_batch(tmp_path: Path) -> None:
    """Regression: every 32-row batch of a run was its own shard (about 10 KB), so a real dataset's
    cache held thousands of tiny files. Now a folder's rows go out together."""
    stage = WriteStage(tmp_path, "enc", {"narrative": PROV}, policy=FlushPolicy(rows=10))
    shards = [stage.process_batch(b)["shards"][0] for b in _batches(6, 4)]
    assert shards == [0, 0, 2, 0, 0, 2]  # rows 12 >= 10 after the 3rd and the 6th batch: priors + texts
    assert _shard_rows(tmp_path, "priors/narrative") == [12, 12]
    assert _shard_rows(tmp_path, "text/enc") == [12, 12]
    assert stage.flush() == 0 and not stage.buffers
    assert sorted(r for r, _ in stage.shard_sizes) == [12, 12, 12, 12] and all(b > 0 for _, b in stage.shard_sizes)


def test_size_limit_flushes_the_big_folder_only(tmp_path: Path) -> None:
    stage = WriteStage(tmp_path, "enc", {"narrative": PROV}, policy=FlushPolicy(rows=10_000, megabytes=20 / 1024))
    for batch in _batches(3, 4):
        batch.update(n_tokens=[200] * 4, tokens=[np.ones(200 * 4, np.float32)] * 4)  # 12.8 KB of text rows a batch
        stage.process_batch(batch)
        if len(stage.shard_sizes) == 1:
            break
    assert _shard_rows(tmp_path, "text/enc") == [8]  # 25.6 KB > 20 KB after two batches: texts went out ...
    assert _shard_rows(tmp_path, "priors/narrative") == []  # ... the prior rows (about 1 KB a batch) wait
    assert stage.flush() == 1 and _shard_rows(tmp_path, "priors/narrative") == [8]


def test_age_limit_flushes_when_the_next_batch_arrives(tmp_path: Path) -> None:
    stage = WriteStage(tmp_path, "enc", {"narrative": PROV}, policy=FlushPolicy(rows=10_000, seconds=0.2))
    first, second = _batches(2, 3)
    assert stage.process_batch(first)["shards"][0] == 0
    time.sleep(0.3)
    assert stage.process_batch(second)["shards"][0] == 2
    assert _shard_rows(tmp_path, "priors/narrative") == [6]


def test_stream_writes_the_rest_at_the_end_and_when_the_graph_fails(tmp_path: Path) -> None:
    big = FlushPolicy(rows=10_000, megabytes=64, seconds=3600)
    stage = WriteStage(tmp_path / "a", "enc", {"narrative": PROV}, policy=big)
    out = list(stage.stream(iter(_batches(5, 4))))
    assert [len(o["key"]) for o in out] == [4] * 5 and all("_s_write" in o for o in out)
    assert _shard_rows(tmp_path / "a", "priors/narrative") == [20] and _shard_rows(tmp_path / "a", "text/enc") == [20]

    def failing() -> Iterator[dict]:
        yield from _batches(2, 4)
        msg = "engine died"
        raise RuntimeError(msg)

    stage = WriteStage(tmp_path / "b", "enc", {"narrative": PROV}, policy=big)
    with pytest.raises(RuntimeError, match="engine died"):
        for _ in stage.stream(failing()):
            pass
    assert _shard_rows(tmp_path / "b", "priors/narrative") == [8]  # finished rows kept
    assert len(CacheStore(tmp_path / "b").priors("narrative")) == 8


def test_slim_stage_drops_frames_and_prompts_only() -> None:
    batch = {**_batches(1, 2)[0], "prompt": ["p", "q"], "frame_times": ["[]", "[]"]}
    out = SlimStage().process_batch(batch)
    assert set(batch) - set(out) == {"images", "prompt", "frame_times"}
    assert all(out[k] is batch[k] for k in out)
