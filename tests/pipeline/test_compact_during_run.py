"""``priors compact`` while a priors run writes to the same cache: a real run (local Ray, the fake
JSON backend, in a subprocess) and compactions of every cache folder in a loop beside it. Every
row the cache held before and every row the run wrote is readable afterwards: the old rows are
unchanged, each manifest key has its ok row, each text has features, and a rerun finds all of
its work cached (zero model calls)."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from groundwork.cache.hashing import sha256_text
from groundwork.cache.manifest import read_manifest_meta
from groundwork.cache.store import CacheStore
from pipeline.commands.compact import compact_cache
from tests.groundwork.test_compact import prior_rows
from tests.pipeline.priors_fixtures import demo_dir  # noqa: F401

REPO = Path(__file__).resolve().parents[2]
FAKE = "fake-scripted-json"
KINDS = ["narrative", "event", "query_rewrite"]

RUN = """
import json, sys
from pathlib import Path
from pipeline.backends.base import BACKENDS
from pipeline.config import PriorsConfig
from pipeline.graph import run_priors
from tests.pipeline.fake_backends import FakeScriptedJSONBackend
from tests.pipeline.priors_fixtures import priors_config

BACKENDS.register({fake!r})(FakeScriptedJSONBackend)
small = {{"shard_rows": 1}} if "shard_rows" in PriorsConfig.model_fields else {{}}  # many shards to merge
config = priors_config(Path({demo!r}), Path({model!r}), Path({cache!r}), Path({manifest!r}), limit=2,
                       backend={fake!r}, kinds={kinds!r}, write_batch_size=1, **small)
print("REPORT " + run_priors(config).model_dump_json())
"""


def _run(script: str) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-c", script], cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )


def _report(proc: subprocess.Popen) -> dict:
    out, err = proc.communicate(timeout=300)
    lines = [x for x in out.splitlines() if x.startswith("REPORT ")]
    assert proc.returncode == 0 and lines, f"priors run failed:\n{out[-2000:]}\n{err[-4000:]}"
    return json.loads(lines[0].removeprefix("REPORT "))


@pytest.mark.slow
def test_compaction_beside_a_running_priors_run(demo_dir: Path, tmp_path: Path) -> None:  # noqa: F811
    cache, manifest = tmp_path / "cache", tmp_path / "m.parquet"
    store = CacheStore(cache)
    for i in range(20):  # rows of an earlier experiment, in small shards of the kinds the run writes
        store.write_priors(KINDS[i % 3], prior_rows([f"old-{i}-a", f"old-{i}-b"]))
    old = {kind: store.priors(kind).to_pylist() for kind in KINDS}
    model = tmp_path / "fake-model"
    model.mkdir()
    (model / "config.json").write_text(json.dumps({"model_type": FAKE}))
    script = RUN.format(
        fake=FAKE, demo=str(demo_dir), model=str(model), cache=str(cache), manifest=str(manifest), kinds=KINDS
    )

    proc = _run(script)
    merged_during, passes = 0, 0
    while proc.poll() is None:
        merged_during += sum(r.merged for r in compact_cache(store, small_bytes=10**9))
        passes += 1
        time.sleep(0.05)
    report = _report(proc)
    after = compact_cache(store, small_bytes=10**9)
    assert merged_during > 0 and passes > 1 and report["model_calls"] > 0 and report["errors"] == {}

    for kind in KINDS:  # the earlier rows: all there, unchanged
        rows = {r["key"]: r for r in store.priors(kind).to_pylist()}
        assert all(rows[r["key"]] == r for r in old[kind])
    table = pq.read_table(manifest).to_pylist()
    have = store.text_hashes(read_manifest_meta(manifest)["text_encoder"])
    for kind in KINDS:  # the run's rows: every manifest key has its ok row, every text its features
        ok, _ = store.prior_key_status(kind)
        listed = {k for r in table for k in r[f"{kind}_keys"]}
        assert listed and listed <= ok
        texts = {r["text_sha256"] for r in store.priors(kind, keys=listed).to_pylist()}
        assert texts <= have
    assert {sha256_text(r["query"]) for r in table} <= have
    assert all(r.shards_after == 1 for r in after if r.folder.startswith("priors/"))

    again = _report(_run(script))  # nothing was lost: the rerun finds every request cached
    assert (again["model_calls"], again["rows_written"]) == (0, 0) and again["cache_hits"] == again["requests"] > 0
