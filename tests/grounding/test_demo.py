"""grounding.demo end to end on the tiny test corpus: both models train, are scored on test next
to the constant-span baseline, the summary and PNGs are written."""

import json
from pathlib import Path

import pytest
import yaml

from grounding.demo import constant_baseline, main
from tests.grounding.fixtures import build_tiny_corpus


def _config(tmp_path: Path, name: str, corpus) -> Path:
    cfg = {"data": {"manifest": str(corpus.manifest), "features": [str(corpus.features)], "max_len": 32},
           "model": {"name": name, "hidden": 16, "heads": 2, "dropout": 0.0},
           "optim": {"lr": 1e-3, "batch_size": 4, "epochs": 1}, "seed": 0, "threads": 1, "device": "cpu"}
    path = tmp_path / f"{name}.yaml"
    path.write_text(yaml.safe_dump(cfg))
    return path


def test_constant_baseline_scores_test_queries(tmp_path: Path) -> None:
    corpus = build_tiny_corpus(tmp_path)
    res = constant_baseline(corpus.manifest, "train", "test")
    assert 0.0 <= res["window"][0] < res["window"][1] <= 1.0
    assert res["counts"]["gt"] > 0 and res["counts"]["missing_predictions"] == 0
    assert set(res["metrics"]) >= {"R1@0.5", "R1@0.7", "mIoU"}


@pytest.mark.slow
def test_demo_trains_both_models_and_reports_against_the_baseline(tmp_path: Path, capsys) -> None:
    corpus = build_tiny_corpus(tmp_path)
    out = tmp_path / "runs"
    code = main(["--manifest", str(corpus.manifest), "--out", str(out), "--plots", "2", "--no-progress",
                 "--configs", str(_config(tmp_path, "span", corpus)), str(_config(tmp_path, "tea", corpus))])
    summary = json.loads((out / "summary.json").read_text())
    assert set(summary["results"]) == {"span", "tea", "constant span (train)"}
    # The exit code is the verdict: 0 only when both models beat the baseline.
    assert code == (0 if all(summary["beats_constant"].values()) else 1)
    assert len(list((out / "plots").glob("*.png"))) == 2
    printed = capsys.readouterr().out
    assert "constant span (train)" in printed and "R1@0.5" in printed
