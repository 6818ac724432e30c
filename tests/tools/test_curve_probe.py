"""tools/curve_probe.py: the per-query AUC on hand cases, and the probe end to end
on two tiny trained runs (a DETR model's saliency, span's foreground gate; tests/tools/conftest.py)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from tools.curve_probe import auc, main


def test_auc_on_hand_cases() -> None:
    y = np.array([0, 1, 1, 0], np.float32)
    assert auc(np.array([0.1, 0.9, 0.8, 0.2]), y) == 1.0  # every moment snippet above every other
    assert auc(np.array([0.9, 0.1, 0.2, 0.8]), y) == 0.0
    assert auc(np.ones(4), y) == 0.5  # ties count half
    assert auc(np.array([0.5, 0.9, 0.1, 0.3]), y) == 0.5  # 2 of the 4 (in, out) pairs ordered right
    assert auc(np.arange(4.0), np.ones(4, np.float32)) is None  # no snippet outside the moment


@pytest.fixture
def runs(tiny_runs: dict[str, Path]) -> list[Path]:
    return [tiny_runs["qd"], tiny_runs["span"]]


def test_probe_prints_each_runs_curve_beside_the_same_position_prior(runs: list[Path], capsys) -> None:  # noqa: ANN001
    assert main([str(r) for r in runs]) == 0
    lines = capsys.readouterr().out.splitlines()
    rows = [line.split() for line in lines[1:]]
    assert [(r[1], r[2]) for r in rows] == [
        ("train", "saliency"),
        ("test", "saliency"),
        ("train", "foreground"),
        ("test", "foreground"),
    ]
    figures = np.array([[float(x) for x in r[3:]] for r in rows])
    assert ((figures >= 0) & (figures <= 1)).all()
    # the prior is the training split's, whatever the model: the same for both runs, split by split
    assert (figures[0, 2:] == figures[2, 2:]).all() and (figures[1, 2:] == figures[3, 2:]).all()


def test_a_missing_run_folder_is_named_with_exit_2_before_any_table(runs: list[Path], tmp_path: Path, capsys) -> None:  # noqa: ANN001
    assert main([str(runs[0]), str(tmp_path / "nowhere")]) == 2
    out, err = capsys.readouterr()
    assert out == "" and "nowhere" in err and "Traceback" not in err
