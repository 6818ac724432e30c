"""A real SIGKILL of ``priors run`` part-way, then a rerun: the cache ends up as an
uninterrupted run's (same keys, same texts, same manifest rows), nothing that finished before
the kill is generated twice, and the reader sees every key once."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from groundwork.cache.store import CacheStore
from tests.pipeline.priors_fixtures import demo_dir, tiny_llava  # noqa: F401 - fixtures

pytestmark = pytest.mark.slow
KINDS = ("narrative", "clip_caption")


def _argv(demo: Path, model: Path, cache: Path, manifest: Path) -> list[str]:
    return [sys.executable, "-m", "pipeline.cli", "run", "demo", "--annotations", str(demo), "--model", str(model),
            "--cache", str(cache), "--manifest", str(manifest), "--interval", "2", "--clip-len", "4",
            "--max-new-tokens", "12", "--batch-size", "2", "--shard-rows", "2", "--num-cpus", "2", "--no-progress"]


def _shards(cache: Path) -> list[Path]:
    return [p for kind in KINDS for p in (cache / "priors" / kind).glob("part-*.parquet")]


def _session_pids(sid: int) -> list[int]:
    """Processes of the session the run started in (its Ray raylet, workers and actors too)."""
    pids = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        if int(fields[3]) == sid:
            pids.append(int(stat.parent.name))
    return pids


def _kill_run(sid: int) -> None:
    """SIGKILL the whole run at once, as when its machine dies: the driver's process group,
    then every process left in its session (Ray workers sit in their own groups)."""
    os.killpg(sid, signal.SIGKILL)
    for _ in range(20):
        left = _session_pids(sid)
        if not left:
            return
        for pid in left:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        time.sleep(0.1)


def _rows(cache: Path) -> dict[str, dict[str, str]]:
    store = CacheStore(cache)
    out = {}
    for kind in KINDS:
        table = store.priors(kind)
        keys = table.column("key").to_pylist()
        assert len(keys) == len(set(keys)), f"{kind}: the reader returned a key twice"
        out[kind] = dict(zip(keys, table.column("text").to_pylist(), strict=True))
    return out


def test_sigkill_then_rerun_equals_an_uninterrupted_run(demo_dir: Path, tiny_llava: Path, tmp_path: Path) -> None:  # noqa: F811
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "RAY_USAGE_STATS_ENABLED": "0", "PYTHONPATH": os.getcwd()}
    killed_cache, clean_cache = tmp_path / "killed", tmp_path / "clean"
    argv = _argv(demo_dir, tiny_llava, killed_cache, tmp_path / "killed.parquet")

    proc = subprocess.Popen(argv, env=env, start_new_session=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 240
    while not _shards(killed_cache) and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    still_running = proc.poll() is None
    _kill_run(proc.pid)
    proc.wait(timeout=30)
    assert still_running, f"the run ended before it could be killed: {proc.stderr.read().decode()[-2000:]}"
    assert proc.returncode == -signal.SIGKILL
    time.sleep(1.0)
    before = {p.name for p in _shards(killed_cache)}
    done = sum(pq.read_metadata(p).num_rows for p in _shards(killed_cache))
    assert before and not (tmp_path / "killed.parquet").exists()

    rerun = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=600)
    assert rerun.returncode == 0, rerun.stderr[-3000:]
    clean = subprocess.run(_argv(demo_dir, tiny_llava, clean_cache, tmp_path / "clean.parquet"), env=env,
                           capture_output=True, text=True, timeout=600)
    assert clean.returncode == 0, clean.stderr[-3000:]

    killed_rows, clean_rows = _rows(killed_cache), _rows(clean_cache)
    for kind in KINDS:
        assert set(killed_rows[kind]) == set(clean_rows[kind]) and clean_rows[kind]
        assert killed_rows[kind] == clean_rows[kind]  # same texts: greedy, same model, same frames
    assert before <= {p.name for p in _shards(killed_cache)}  # finished shards were kept ...
    raw = sum(pq.read_metadata(p).num_rows for p in _shards(killed_cache))
    assert raw == sum(len(r) for r in killed_rows.values())  # ... and none of their rows redone
    report = json.loads((tmp_path / "killed.report.json").read_text())
    assert report["cache_hits"] == done  # the rerun did only the rest
    assert report["model_calls"] == report["requests"] - done > 0
    assert pq.read_table(tmp_path / "killed.parquet").equals(pq.read_table(tmp_path / "clean.parquet"))
