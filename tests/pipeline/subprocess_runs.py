"""``priors run`` in a subprocess that a test can SIGKILL as a whole (driver, Ray's raylet, workers
and actors), and what a finished cache holds, for the kill and shared-cache tests."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pyarrow.parquet as pq

from groundwork.cache.claims import ClaimBook, Owner
from groundwork.cache.store import CacheStore

# The run: the fake backend registered in the child (Ray's generate actor loads it by reference).
CHILD = (
    "import sys; from tests.pipeline.soak_backends import register; register(); "
    "from pipeline.config import PriorsConfig; from pipeline.graph import run_priors; "
    "run_priors(PriorsConfig.model_validate_json(sys.argv[1]))"
)
ENV = {
    **os.environ,
    "HF_HUB_OFFLINE": "1",
    "RAY_USAGE_STATS_ENABLED": "0",
    "PYTHONPATH": os.getcwd(),
    "OMP_NUM_THREADS": "1",
}


def start(config_json: str) -> subprocess.Popen:
    """A priors run in a new session (so that all its processes can be killed together); its
    stderr goes to a file (a pipe nobody reads could fill and stall the run): ``stderr_of``."""
    err = tempfile.TemporaryFile(mode="w+")
    proc = subprocess.Popen(
        [sys.executable, "-c", CHILD, config_json],
        env=ENV,
        start_new_session=True,
        stdout=subprocess.DEVNULL,
        stderr=err,
        text=True,
    )
    proc.stderr_file = err  # type: ignore[attr-defined]
    return proc


def stderr_of(proc: subprocess.Popen) -> str:
    """The last 3,000 characters a run started by ``start`` wrote to stderr."""
    err = proc.stderr_file  # type: ignore[attr-defined]
    err.seek(0)
    return err.read()[-3000:]


def run(config_json: str, timeout: float = 600, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    """A priors run to its end; ``env`` adds variables (an object store's credentials)."""
    return subprocess.run(
        [sys.executable, "-c", CHILD, config_json],
        env={**ENV, **(env or {})},
        capture_output=True,
        text=True,
        timeout=timeout,
    )


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


def kill_run(proc: subprocess.Popen) -> None:
    """SIGKILL the whole run at once, as when its machine dies: the driver's process group, then
    every process left in its session (Ray workers sit in their own groups)."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)
    for _ in range(50):
        left = _session_pids(proc.pid)
        if not left:
            break
        for pid in left:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        time.sleep(0.1)
    proc.wait(timeout=30)


def cache_state(cache: Path, kinds: tuple[str, ...], encoder: str) -> dict[str, object]:
    """What a finished cache holds, and how many raw rows: per kind key -> (status, text), the
    text hashes with features, and for each folder the raw rows over all shards (readers dedupe,
    so raw == unique means nothing was written twice)."""
    store = CacheStore(cache)
    out: dict[str, object] = {}
    for kind in kinds:
        table = store.priors(kind)
        out[kind] = dict(
            zip(
                table.column("key").to_pylist(),
                zip(table.column("status").to_pylist(), table.column("text").to_pylist(), strict=True),
                strict=True,
            )
        )
        out[f"{kind}/raw"] = sum(pq.read_metadata(p).num_rows for p in store.prior_dir(kind).glob("part-*.parquet"))
    out["text"] = store.text_hashes(encoder)
    out["text/raw"] = sum(pq.read_metadata(p).num_rows for p in store.text_dir(encoder).glob("part-*.parquet"))
    return out


def held_claims(cache: Path) -> list[Path]:
    """Claims still held (not done markers) under the cache."""
    book = ClaimBook(cache, Owner("", "", -1, ""))
    return [p for p in book.root.glob("*/*.json") if (c := book.read(p)) is not None and c.done_at is None]
