"""bench/warm_cache.py's key lookup at a small size: every cached key is found (nothing left to
generate), and ``--no-readme`` leaves bench/README.md alone."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def test_key_lookup_finds_every_cached_key_and_leaves_the_readme() -> None:
    readme = (REPO / "bench" / "README.md").read_bytes()
    cmd = [sys.executable, "bench/warm_cache.py", "--keys", "3000", "--shard-rows", "1000"]
    cmd += ["--skip-graph", "--no-readme"]
    run = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, timeout=300, check=False)
    assert run.returncode == 0, run.stdout + run.stderr
    assert "3,000 cached keys in 3 shards" in run.stdout and "left to generate: 0;" in run.stdout
    assert (REPO / "bench" / "README.md").read_bytes() == readme
