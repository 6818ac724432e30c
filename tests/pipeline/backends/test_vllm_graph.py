"""The full stage graph (local Ray, 3 demo videos) with ``backend="vllm"``: vLLM's CPU engine in
the generate stage's actor writes the priors, and every row says ``backend = vllm``.
Runs only in ``.venv-vllm`` (``make test-vllm``)."""

from __future__ import annotations

from pathlib import Path

import pytest

pytest.importorskip("vllm", reason="vllm not installed: run make test-vllm")

from groundwork.cache.store import CacheStore  # noqa: E402
from pipeline.demo.tiny_models import build_tiny_llava  # noqa: E402
from pipeline.graph import run_priors  # noqa: E402
from tests.pipeline.priors_fixtures import demo_dir, priors_config  # noqa: E402, F401

pytestmark = [pytest.mark.vllm, pytest.mark.slow]


def test_graph_writes_rows_with_backend_vllm(demo_dir: Path, tmp_path: Path) -> None:  # noqa: F811
    model = build_tiny_llava(tmp_path / "llava", scale="vllm")
    config = priors_config(demo_dir, model, tmp_path / "cache", tmp_path / "demo.parquet", backend="vllm")
    report = run_priors(config)
    assert report.model_calls == report.requests > 0 and report.errors == {}
    store = CacheStore(tmp_path / "cache")
    for kind in ("narrative", "clip_caption"):
        rows = store.priors(kind).to_pylist()
        assert rows and {r["backend"] for r in rows} == {"vllm"}, kind
        assert {r["status"] for r in rows} == {"ok"}
        assert all(r["n_output_tokens"] > 0 and r["latency_ms"] > 0 for r in rows)
    again = run_priors(config)
    assert again.model_calls == 0
