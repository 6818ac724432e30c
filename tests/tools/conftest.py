"""Two tiny trained runs the tools' tests probe (one epoch on the tests' real-format corpus): a
DETR-family model (``qd``: qd_detr) and ``span``, trained once per test session."""

from __future__ import annotations

from pathlib import Path

import pytest

from grounding.config import load_config
from grounding.train import fit
from tests.grounding.fixtures import build_tiny_corpus

TINY_MODELS = {"qd": {"name": "qd_detr", "hidden": 16, "heads": 2, "ffn_dim": 32}, "span": {"name": "span"}}


@pytest.fixture(scope="session")
def tiny_runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("tool_runs")
    corpus = build_tiny_corpus(root, n_videos=6, queries_per_video=3)
    for name, model in TINY_MODELS.items():
        cfg = load_config(
            None,
            {
                "data": {"manifest": str(corpus.manifest), "features": [str(corpus.features)], "max_len": 16},
                "model": model,
                "optim": {"batch_size": 2, "epochs": 1},
                "out_dir": str(root / name),
                "device": "cpu",
            },
        )
        fit(cfg, progress=False)
    return {name: root / name for name in TINY_MODELS}
