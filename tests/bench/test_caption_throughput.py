"""bench/caption_throughput.py on the CPU at its small size: every request answers, with exactly
the forced number of output tokens (its fixed-length backend subclass follows the backend's API)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def test_transformers_row_has_no_errors_and_the_forced_length() -> None:
    cmd = [sys.executable, "bench/caption_throughput.py", "--device", "cpu", "--backends", "transformers"]
    cmd += ["--size", "small", "--frames", "3", "--output-tokens", "5", "--batch-size", "2"]
    run = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, timeout=600, check=False)
    assert run.returncode == 0, run.stdout + run.stderr
    row = next(line.split() for line in run.stdout.splitlines() if line.startswith("transformers"))
    frames_per_s, _, output_tok_per_s, errors = (float(x) for x in row[1:])
    assert errors == 0
    assert abs(output_tok_per_s / frames_per_s - 5) < 0.05  # 5 tokens per frame: min_new_tokens reached the model
