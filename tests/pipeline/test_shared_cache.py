"""Two ``priors run``s sharing one cache (``groundwork.cache.claims``): over overlapping videos no
key is generated twice and none is missing, the rows equal those of one run on its own, and a
run killed while holding claims blocks the other no longer than the claims' time-to-live. (Text
features of query texts are not claimed: both runs may embed one, and readers keep one row.)

Real runs in subprocesses (local Ray each) with ``FakeFrameDigestBackend`` slowed to ``delay_s``
per request, so that the runs overlap in time; the second run starts once the first holds
claims."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from groundwork.cache.claims import ClaimBook, Owner
from pipeline.backends.base import SamplingConfig
from pipeline.config import PriorsConfig
from tests.pipeline.priors_fixtures import demo_dir  # noqa: F401 - fixture
from tests.pipeline.soak_backends import NAME
from tests.pipeline.subprocess_runs import cache_state, held_claims, kill_run, run, start, stderr_of

pytestmark = pytest.mark.slow
KINDS = ("narrative", "clip_caption")
ENCODER = "all-MiniLM-L6-v2"


def _config(demo: Path, cache: Path, manifest: Path, **overrides) -> str:  # noqa: ANN003
    settings = {
        "dataset": "demo",
        "annotations": demo,
        "cache": cache,
        "manifest": manifest,
        "model": "fake-model",
        "backend": NAME,
        "backend_options": {"delay_s": 0.4},
        "kinds": list(KINDS),
        "interval": 2.0,
        "clip_len": 4.0,
        "sampling": SamplingConfig(max_new_tokens=4),
        "num_cpus": 2,
        "progress": False,
        "write_batch_size": 2,
        "generate_batch_size": 2,
        "claim_ttl_s": 8.0,
    }
    return PriorsConfig(**{**settings, **overrides}).model_dump_json()


@pytest.fixture(scope="module")
def reference(demo_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> dict:  # noqa: F811
    """One run on its own over the three demo videos: what a shared cache must end up holding."""
    out = tmp_path_factory.mktemp("reference")
    done = run(_config(demo_dir, out / "cache", out / "m.parquet", backend_options={}))
    assert done.returncode == 0, done.stderr[-3000:]
    report = json.loads((out / "m.report.json").read_text())
    return {
        "state": cache_state(out / "cache", KINDS, ENCODER),
        "report": report,
        "manifest": pq.read_table(out / "m.parquet"),
    }


def _wait_for_a_claim(cache: Path, proc, limit_s: float = 600.0) -> None:  # noqa: ANN001
    start = time.monotonic()
    while not held_claims(cache):
        assert proc.poll() is None, f"the first run ended before it held a claim: {stderr_of(proc)}"
        assert time.monotonic() - start < limit_s
        time.sleep(0.1)


def test_two_runs_on_one_cache_generate_each_key_once(
    demo_dir: Path,
    tmp_path: Path,  # noqa: F811
    reference: dict,
) -> None:
    cache = tmp_path / "cache"
    slow = {"backend_options": {"delay_s": 1.0}}  # 18 s of "model" per video: the runs overlap
    first = start(_config(demo_dir, cache, tmp_path / "a.parquet", limit=2, **slow))  # two of the three videos
    _wait_for_a_claim(cache, first)
    second = run(_config(demo_dir, cache, tmp_path / "b.parquet", **slow))  # all three: two overlap
    first.wait(timeout=600)
    assert first.returncode == 0, stderr_of(first)
    assert second.returncode == 0, second.stderr[-3000:]

    a, b = (json.loads((tmp_path / f"{x}.report.json").read_text()) for x in "ab")
    got, want = cache_state(cache, KINDS, ENCODER), reference["state"]
    for key in (*KINDS, *(f"{k}/raw" for k in KINDS), "text"):
        assert got[key] == want[key], key  # same keys and rows, each prior row written once
    # Claims cover generation (the model calls); the text encoder's pass over query texts is not
    # claimed, so both runs may embed a query of the shared videos: readers keep one row.
    assert got["text/raw"] >= want["text/raw"]
    assert a["model_calls"] + b["model_calls"] == reference["report"]["model_calls"]  # no key generated twice
    assert a["claims_generated"] + b["claims_generated"] == 2 * 3  # each (kind, video) by one run
    assert b["claims_waited"] + a["claims_waited"] >= 2  # one waited for units the other held (or finished)
    assert b["cache_hits"] == 0  # the second planned while the first had written nothing: claims did it
    assert pq.read_table(tmp_path / "b.parquet").equals(reference["manifest"])
    assert held_claims(cache) == []
    print(
        f"shared cache: run A {a['model_calls']} calls, {a['claims_generated']} units; run B "
        f"{b['model_calls']} calls, {b['claims_generated']} units, waited for {b['claims_waited']} "
        f"({b['claim_wait_seconds']} s); one run alone: {reference['report']['model_calls']} calls"
    )


def test_a_killed_run_blocks_the_other_only_until_its_claims_lapse(
    demo_dir: Path,
    tmp_path: Path,  # noqa: F811
    reference: dict,
) -> None:
    cache = tmp_path / "cache"
    first = start(_config(demo_dir, cache, tmp_path / "a.parquet", shard_rows=4))
    _wait_for_a_claim(cache, first)
    time.sleep(3.0)  # let it write a shard or two
    kill_run(first)
    # As if it had run on another machine: this host cannot see it is gone, only the claims' age.
    book = ClaimBook(cache, Owner("", "", -1, ""))
    held = held_claims(cache)
    assert held
    for path in held:
        st = path.stat()
        data = json.loads(path.read_text())
        data["owner"]["host"] = "another-machine/pid:[1]"
        path.write_text(json.dumps(data))
        os.utime(path, (st.st_atime, st.st_mtime))
        assert book.read(path).owner.host == "another-machine/pid:[1]"  # type: ignore[union-attr]
    written = cache_state(cache, KINDS, ENCODER)

    start_s = time.monotonic()
    second = run(_config(demo_dir, cache, tmp_path / "b.parquet", backend_options={}))
    assert second.returncode == 0, second.stderr[-3000:]
    b = json.loads((tmp_path / "b.report.json").read_text())
    assert b["claim_wait_seconds"] <= 8.0 + 5.0 + 5.0  # ttl, a poll, slack: not blocked beyond the expiry
    got, want = cache_state(cache, KINDS, ENCODER), reference["state"]
    for key in (*KINDS, *(f"{k}/raw" for k in KINDS), "text"):
        assert got[key] == want[key], key  # complete, and no prior row written twice
    assert b["model_calls"] == reference["report"]["model_calls"] - sum(
        1 for kind in KINDS for status, _ in written[kind].values() if status == "ok"
    )  # type: ignore[attr-defined]
    assert held_claims(cache) == []
    print(
        f"killed holding {len(held)} claims: the other run took over {b['claims_taken_over']} after waiting "
        f"{b['claim_wait_seconds']} s, generated {b['claims_generated']} units itself, "
        f"{time.monotonic() - start_s:.1f} s in all"
    )
