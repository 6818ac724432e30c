"""The openai backend against a real HTTP server on 127.0.0.1 (the standard library's), scripted
to answer 429 / 5xx / 400 / 200 in a given order. No vLLM needed: this runs in the main venv.
(``test_openai_vllm_serve.py`` runs it against a real ``vllm serve`` in ``.venv-vllm``.)"""

from __future__ import annotations

import base64
import io
import json
import socket
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import numpy as np
import pytest
from PIL import Image

from pipeline.backends.base import GenerationRequest, SamplingConfig
from pipeline.backends.openai_backend import OpenAIBackend

COMPLETION = {
    "id": "c1",
    "object": "chat.completion",
    "created": 0,
    "model": "tiny",
    "choices": [{"index": 0, "message": {"role": "assistant", "content": " a red square "}, "finish_reason": "stop"}],
    "usage": {"prompt_tokens": 11, "completion_tokens": 3, "total_tokens": 14},
}


class ScriptedServer:
    """Answers each POST with the next status of ``script`` (then 200 forever); records bodies."""

    def __init__(self, script: list[int], delay_s: float = 0.0) -> None:
        self.script = list(script)
        self.delay_s = delay_s
        self.bodies: list[dict[str, Any]] = []
        self.in_flight = 0
        self.max_in_flight = 0
        self.lock = threading.Lock()
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server's name
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                with owner.lock:
                    owner.bodies.append(body)
                    status = owner.script.pop(0) if owner.script else 200
                    owner.in_flight += 1
                    owner.max_in_flight = max(owner.max_in_flight, owner.in_flight)
                time.sleep(owner.delay_s)
                # Out of flight before the answer leaves: a client that has read it may send its next
                # request before this thread runs again, which would count one request twice.
                with owner.lock:
                    owner.in_flight -= 1
                payload = COMPLETION if status == 200 else {"error": {"message": f"scripted {status}"}}
                data = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args: Any) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/v1"

    def __enter__(self) -> ScriptedServer:
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


def backend(url: str, **options: Any) -> OpenAIBackend:
    options = {"max_retries": 2, "backoff_s": 0.01, "max_backoff_s": 0.05, "timeout_s": 5.0, **options}
    return OpenAIBackend("tiny", SamplingConfig(max_new_tokens=7), base_url=url, **options)


def request(key: str = "k", **fields: Any) -> GenerationRequest:
    return GenerationRequest(key=key, prompt="Describe the frame.", **fields)


@pytest.fixture
def free_port() -> Iterator[int]:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    yield port  # nothing listens there once the socket is closed


def test_retries_429_and_503_then_succeeds() -> None:
    with ScriptedServer([429, 503]) as server:
        (result,) = backend(server.url).generate([request()])
    assert result.status == "ok", result.error
    assert result.text == "a red square"
    assert (result.n_prompt_tokens, result.n_output_tokens) == (11, 3)
    assert len(server.bodies) == 3 and result.latency_ms > 0


def test_still_failing_after_retries_is_an_error_row() -> None:
    with ScriptedServer([500, 502, 503, 200]) as server:
        results = backend(server.url, max_retries=2).generate([request()])
    assert results[0].status == "error" and results[0].text == ""
    assert results[0].error_type == "InternalServerError"
    assert "after 3 attempts" in results[0].error
    assert len(server.bodies) == 3  # the 200 was never reached


def test_client_error_is_not_retried() -> None:
    with ScriptedServer([400]) as server:
        (result,) = backend(server.url).generate([request()])
    assert (result.status, result.error_type) == ("error", "BadRequestError")
    assert "after 1 attempt)" in result.error and len(server.bodies) == 1


def test_refused_connection_is_retried_then_an_error_row(free_port: int) -> None:
    (result,) = backend(f"http://127.0.0.1:{free_port}/v1", max_retries=1).generate([request()])
    assert (result.status, result.error_type) == ("error", "APIConnectionError")
    assert "after 2 attempts" in result.error


def test_images_go_as_png_data_urls_and_schema_as_response_format() -> None:
    frame = np.random.default_rng(0).integers(0, 256, (12, 16, 3), dtype=np.uint8)
    schema = {"type": "array", "items": {"type": "object"}}
    with ScriptedServer([]) as server:
        backend(server.url).generate([request(images=[frame, frame[::-1].copy()], json_schema=schema)])
    body = server.bodies[0]
    content = body["messages"][0]["content"]
    assert [part["type"] for part in content] == ["image_url", "image_url", "text"]
    header, data = content[0]["image_url"]["url"].split(",", 1)
    assert header == "data:image/png;base64"
    np.testing.assert_array_equal(np.asarray(Image.open(io.BytesIO(base64.b64decode(data)))), frame)
    assert body["response_format"] == {
        "type": "json_schema",
        "json_schema": {"name": "output", "schema": schema, "strict": True},
    }
    assert (body["max_tokens"], body["temperature"], body["model"]) == (7, 0.0, "tiny")


def test_concurrency_is_bounded_and_order_kept() -> None:
    with ScriptedServer([], delay_s=0.05) as server:
        results = backend(server.url, concurrency=3).generate([request(f"k{i}") for i in range(9)])
    assert [r.key for r in results] == [f"k{i}" for i in range(9)]
    assert all(r.status == "ok" for r in results)
    assert 1 < server.max_in_flight <= 3


def test_malformed_image_is_an_error_row_without_a_call() -> None:
    with ScriptedServer([]) as server:
        (result,) = backend(server.url).generate([request(images=[np.zeros((4, 4), dtype=np.uint8)])])
    assert (result.status, result.error_type) == ("error", "ValueError") and server.bodies == []


def test_bad_options_are_refused() -> None:
    with pytest.raises(ValueError, match="image_format"):
        backend("http://127.0.0.1:1/v1", image_format="gif")


def test_base_url_defaults_to_openai_base_url_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_BASE_URL", "http://127.0.0.1:9/v1")
    assert OpenAIBackend("tiny", SamplingConfig()).base_url == "http://127.0.0.1:9/v1"
    monkeypatch.delenv("OPENAI_BASE_URL")
    assert OpenAIBackend("tiny", SamplingConfig()).base_url == "http://127.0.0.1:8000/v1"
