"""Kill soak of ``priors run``: SIGKILLs of a whole run (driver, Ray raylet, workers and actors)
at seeded random moments, each followed by a rerun: four in ``make test``, twenty in the
``soak``-marked run (``make test-soak``, about 15 minutes on 2 cores). After each rerun the cache equals an
uninterrupted run's: the same keys with the same status and text, every key and every text
written once (raw rows over all shards == unique keys), the same manifest, and no claim left
held; the rerun takes a killed run's claims over at once (its driver is gone from this host).

Small by design: two demo videos, the fast deterministic ``FakeFrameDigestBackend``, local Ray
with 2 CPUs, small blocks and shards (``embed_batch_size=4``, ``shard_rows=4``: each block of rows
that reaches the driver is written at once, so a kill can fall between shard writes). A run's time
is mostly Python and Ray starting (imports, the local instance, one actor per model stage), so the
soak runs two attempts at a time (each in its own cache and Ray instance) and takes about 15 runs'
time;
``GROUNDWORK_SOAK_KILLS`` sets the soak's count (20)."""

from __future__ import annotations

import json
import os
import random
import signal
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from pipeline.backends.base import SamplingConfig
from pipeline.config import PriorsConfig
from tests.pipeline.priors_fixtures import demo_dir  # noqa: F401 - fixture
from tests.pipeline.soak_backends import NAME
from tests.pipeline.subprocess_runs import cache_state, held_claims, kill_run, run, start, stderr_of

pytestmark = pytest.mark.slow
KILLS = int(os.environ.get("GROUNDWORK_SOAK_KILLS", "20"))  # the soak's kills
QUICK_KILLS = 4  # make test's
AT_ONCE = 2  # attempts side by side, each in its own cache and Ray instance: both cores busy
SEED = 15
KINDS = ("narrative", "clip_caption")
ENCODER = "all-MiniLM-L6-v2"


def _config(demo: Path, out: Path) -> str:
    return PriorsConfig(
        dataset="demo",
        annotations=demo,
        cache=out / "cache",
        manifest=out / "m.parquet",
        model="fake-model",
        backend=NAME,
        backend_options={"delay_s": 0.05},
        kinds=list(KINDS),
        limit=2,
        interval=2.0,
        clip_len=4.0,
        sampling=SamplingConfig(max_new_tokens=4),
        num_cpus=2,
        progress=False,
        write_batch_size=2,
        generate_batch_size=2,
        embed_batch_size=4,
        shard_rows=4,
    ).model_dump_json()


@pytest.mark.parametrize(
    "kills", [pytest.param(QUICK_KILLS, id="quick"), pytest.param(KILLS, id="soak", marks=pytest.mark.soak)]
)
def test_kills_each_rerun_equals_an_uninterrupted_run(demo_dir: Path, tmp_path: Path, kills: int) -> None:  # noqa: F811
    start_s = time.monotonic()
    ref = run(_config(demo_dir, tmp_path / "ref"))
    span = time.monotonic() - start_s
    assert ref.returncode == 0, ref.stderr[-3000:]
    want = cache_state(tmp_path / "ref" / "cache", KINDS, ENCODER)
    manifest = pq.read_table(tmp_path / "ref" / "m.parquet")
    assert all(want[k] for k in KINDS) and want["text"]

    rng = random.Random(SEED)
    # The start (imports, Ray) is most of a run, so every other attempt (odd i) is killed when its
    # first shard lands; the timed ones (even i) are stratified over the first 80 % of a run, the
    # k-th of them in stratum k mod (kills / 2), so they reach every phase too.
    timed = max(1, kills // 2)
    delays = [((i // 2) % timed + rng.random()) / timed * 0.8 * span for i in range(3 * kills)]

    def attempt(i: int) -> tuple[int, int] | None:
        """Kill attempt ``i`` and its rerun, checked: (shards on disk when killed, rows the rerun
        generated), or None when the run ended before its kill (the draw is spent)."""
        out = tmp_path / f"kill{i:02d}"
        config = _config(demo_dir, out)
        proc = start(config)
        if i % 2:  # every other attempt: killed as soon as the first shard lands (mid-write)
            while proc.poll() is None and not any((out / "cache").glob("*/*/part-*.parquet")):
                time.sleep(0.02)
        else:
            time.sleep(delays[i])
        ended = proc.poll() is not None
        kill_run(proc)
        if ended:
            assert proc.returncode == 0, f"attempt {i}: {stderr_of(proc)}"
            return None
        assert proc.returncode == -signal.SIGKILL
        shards = len(list((out / "cache").glob("*/*/part-*.parquet")))  # (a kill after the manifest counts too)
        rerun = run(config)
        assert rerun.returncode == 0, f"kill {i}: {rerun.stderr[-3000:]}"
        report = json.loads((out / "m.report.json").read_text())
        assert report["claim_wait_seconds"] < 30, f"kill {i}: the rerun waited on the killed run's claims"
        got = cache_state(out / "cache", KINDS, ENCODER)
        for key, value in want.items():
            assert got[key] == value, f"kill {i} ({shards} shards on disk): {key} differs"
        assert pq.read_table(out / "m.parquet").equals(manifest), f"kill {i}: the manifest differs"
        assert held_claims(out / "cache") == [], f"kill {i}: claims left held"
        return shards, report["rows_written"]

    seen: list[tuple[int, int]] = []
    with ThreadPoolExecutor(AT_ONCE) as pool:
        for first in range(0, 3 * kills, AT_ONCE):
            if len(seen) >= kills:
                break
            seen += [r for r in pool.map(attempt, range(first, first + AT_ONCE)) if r is not None]
    assert len(seen) >= kills, f"only {len(seen)} kills landed before the runs ended"
    print(
        f"priors kill soak: {len(seen)} kills survived (shards on disk at the kill, rows the rerun wrote): "
        f"{seen}; uninterrupted run {span:.1f} s"
    )
