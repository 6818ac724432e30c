"""bench/caption_throughput.py on the CPU at its small size: every request answers, with exactly
the forced number of output tokens (its fixed-length backend subclasses follow the backends' API).
The vLLM row runs in .venv-vllm only (``make test-vllm``)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


def forced_length_row(backend: str, tokens: int = 5) -> tuple[float, float, float]:
    """(frames/s, output tok/s, errors) of the script's row for ``backend``; it must exit 0."""
    cmd = [sys.executable, "bench/caption_throughput.py", "--device", "cpu", "--backends", backend]
    cmd += ["--size", "small", "--frames", "3", "--output-tokens", str(tokens), "--batch-size", "2"]
    run = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, timeout=900, check=False)
    assert run.returncode == 0, run.stdout + run.stderr
    row = next(line.split() for line in run.stdout.splitlines() if line.startswith(backend))
    frames_per_s, _, output_tok_per_s, errors = (float(x) for x in row[1:])
    return frames_per_s, output_tok_per_s, errors


def test_transformers_row_has_no_errors_and_the_forced_length() -> None:
    frames_per_s, output_tok_per_s, errors = forced_length_row("transformers")
    assert errors == 0
    assert abs(output_tok_per_s / frames_per_s - 5) < 0.05  # 5 tokens per frame: min_new_tokens reached the model


@pytest.mark.vllm
@pytest.mark.slow
def test_vllm_row_has_no_errors_and_the_forced_length() -> None:
    pytest.importorskip("vllm", reason="vllm not installed: run make test-vllm")
    frames_per_s, output_tok_per_s, errors = forced_length_row("vllm")
    assert errors == 0
    assert abs(output_tok_per_s / frames_per_s - 5) < 0.05  # ignore_eos + min_tokens: exactly 5 a frame
