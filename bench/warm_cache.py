"""Warm-cache rerun benchmark.

1. Model calls on a warm rerun of the real graph (tiny LLaVA, 3 demo videos): must be 0.
2. The time the plan takes to find 300k keys already cached: read every key and status from
   the cache's shards and the plan index, and drop the cached requests (one fingerprint per
   video and kind; without the index every request's key is hashed again, also reported).
   Target < 5 s.

    python bench/warm_cache.py [--keys 300000] [--shard-rows 10000] [--skip-graph]

Prints the figures and appends a section to bench/README.md (``--no-readme``: print only)."""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

import pyarrow as pa

from groundwork.cache.keys import GenerationIdentity
from groundwork.cache.layout import PRIOR_SCHEMA
from groundwork.cache.store import CacheStore
from pipeline.cache.plan_index import read_plan_index, write_plan_index
from pipeline.kinds.base import PlanSettings
from pipeline.kinds.narrative import NarrativePlanner
from pipeline.stages.plan import PlanStage

README = Path(__file__).with_name("README.md")
SECONDS_PER_VIDEO = 300


def _videos(n_keys: int) -> dict[str, list]:
    n = n_keys // SECONDS_PER_VIDEO
    return {
        "video_id": [f"vid{i:06d}" for i in range(n)],
        "path": [f"/videos/vid{i:06d}.mp4" for i in range(n)],
        "duration": [float(SECONDS_PER_VIDEO)] * n,
        "video_sha256": [f"{i:064x}" for i in range(n)],
        "queries": ["[]"] * n,
    }


def _fill_cache(store: CacheStore, keys: list[str], shard_rows: int) -> None:
    for start in range(0, len(keys), shard_rows):
        part = keys[start : start + shard_rows]
        n = len(part)
        cols = {f.name: pa.nulls(n, f.type) for f in PRIOR_SCHEMA}
        cols.update(
            key=pa.array(part),
            kind=pa.array(["narrative"] * n),
            status=pa.array(["ok"] * n),
            text=pa.array(["a frame."] * n),
        )
        store.write_priors("narrative", pa.table(cols, schema=PRIOR_SCHEMA))


def bench_lookup(n_keys: int, shard_rows: int) -> dict[str, float]:
    ident = GenerationIdentity(
        "tiny-llava", "rev", "narrate_frame", 1, "p" * 64, {"sampler": "decord"}, {"temperature": 0.0}
    )
    planner = {"narrative": NarrativePlanner(ident, PlanSettings(interval=1.0))}
    videos = _videos(n_keys)
    with tempfile.TemporaryDirectory() as tmp:
        store = CacheStore(tmp)
        cold = PlanStage(planner, cached={}).process_batch(videos)
        keys = [r["key"] for reqs in cold["requests"] for r in json.loads(reqs)]
        _fill_cache(store, keys, shard_rows)
        write_plan_index(store.root, {fp: e for new in cold["index_new"] for fp, e in json.loads(new).items()})
        t0, c0 = time.perf_counter(), time.process_time()
        ok, errors = store.prior_key_status("narrative")
        index = read_plan_index(store.root)
        t1 = time.perf_counter()
        warm = PlanStage(planner, cached={"narrative": ok | errors}, index=index).process_batch(videos)
        t2, c2 = time.perf_counter(), time.process_time()
        c3 = time.process_time()
        PlanStage(planner, cached={"narrative": ok | errors}).process_batch(videos)  # no index: hash every key
        no_index_cpu = time.process_time() - c3
    left = sum(len(json.loads(r)) for r in warm["requests"])
    return {
        "keys": len(keys),
        "shards": -(-len(keys) // shard_rows),
        "read_keys_s": t1 - t0,
        "plan_s": t2 - t1,
        "total_s": t2 - t0,
        "cpu_s": c2 - c0,
        "no_index_cpu_s": no_index_cpu,
        "load": os.getloadavg()[0],
        "left_to_generate": left,
    }


def bench_graph() -> dict[str, int]:
    from pipeline.backends.base import SamplingConfig
    from pipeline.config import PriorsConfig
    from pipeline.demo.tiny_models import build_tiny_llava
    from pipeline.demo.videos import generate_demo
    from pipeline.graph import run_priors

    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        demo = generate_demo(root / "demo", n_videos=3)
        model = build_tiny_llava(root / "tiny-llava")
        config = PriorsConfig(
            dataset="demo",
            annotations=demo,
            cache=root / "cache",
            manifest=root / "m.parquet",
            model=str(model),
            interval=4.0,
            clip_len=8.0,
            sampling=SamplingConfig(max_new_tokens=4),
            progress=False,
            num_cpus=2,
        )
        cold, warm = run_priors(config), run_priors(config)
    return {
        "requests": warm.requests,
        "cold_model_calls": cold.model_calls,
        "warm_model_calls": warm.model_calls,
        "warm_cache_hits": warm.cache_hits,
        "cold_wall_s": round(cold.wall_seconds, 1),
        "warm_wall_s": warm.wall_seconds,
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--keys", type=int, default=300_000)
    parser.add_argument("--shard-rows", type=int, default=10_000)
    parser.add_argument("--skip-graph", action="store_true", help="only the key lookup")
    parser.add_argument("--no-readme", action="store_true", help="print the section, do not append it to the README")
    args = parser.parse_args(argv)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")

    lookup = bench_lookup(args.keys, args.shard_rows)
    lines = [
        f"- key lookup: {lookup['keys']:,} cached keys in {lookup['shards']} shards: read keys and plan "
        f"index {lookup['read_keys_s']:.2f} s + plan (drop cached) {lookup['plan_s']:.2f} s "
        f"= **{lookup['total_s']:.2f} s** wall, {lookup['cpu_s']:.2f} s CPU (target < 5 s; load average "
        f"{lookup['load']:.1f} on this machine); left to generate: {lookup['left_to_generate']}; "
        f"without the plan index (hash every request again): {lookup['no_index_cpu_s']:.2f} s CPU"
    ]
    if not args.skip_graph:
        g = bench_graph()
        lines.append(
            f"- real graph, 3 demo videos, tiny LLaVA: cold run {g['cold_model_calls']} model calls "
            f"({g['cold_wall_s']} s), warm rerun **{g['warm_model_calls']} model calls**, "
            f"{g['warm_cache_hits']}/{g['requests']} cache hits ({g['warm_wall_s']:.2f} s, Ray not started)"
        )
    stamp = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    section = (
        f"\n## Warm-cache rerun (`bench/warm_cache.py`, {stamp}, {os.cpu_count()} CPUs)\n\n" + "\n".join(lines) + "\n"
    )
    print(section)
    if not args.no_readme:
        with README.open("a", encoding="utf-8") as f:
            f.write(section)


if __name__ == "__main__":
    main()
