"""tools/detr_probe.py: its two helpers on hand cases, and the probe end to end on a tiny trained
``qd_detr`` run (and a ``span`` run, which it must refuse by name)."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from grounding.config import load_config
from grounding.train import fit
from tests.grounding.fixtures import build_tiny_corpus
from tools.detr_probe import main, relative_change, same_video_swap


def test_same_video_swap_gives_each_query_another_of_its_video() -> None:
    assert same_video_swap(["a", "a", "b", "a", "c", "b"]).tolist() == [1, 3, 5, 0, 4, 2]  # "c" keeps its one


def test_relative_change_on_hand_cases() -> None:
    a = torch.ones(2, 3, 4)
    mask = torch.tensor([[True, True, False], [True, False, False]])
    assert relative_change(a, a, mask) == (0.0, 12.0)  # 3 valid snippets x 4 dims
    b = a.clone()
    b[0, 2] = 100.0  # a padded snippet: not counted
    b[1, 0] = 3.0
    assert relative_change(a, b, mask) == (16.0, 12.0)  # one valid snippet moved by 2 in 4 dims


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("detr_probe")
    corpus = build_tiny_corpus(root, n_videos=6, queries_per_video=3)
    models = {"qd": {"name": "qd_detr", "hidden": 16, "heads": 2, "ffn_dim": 32}, "span": {"name": "span"}}
    for name, model in models.items():
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
    return {name: root / name for name in models}


def test_probe_prints_the_run_and_its_architecture_at_initialisation(runs: dict[str, Path], capsys) -> None:  # noqa: ANN001
    assert main([str(runs["qd"]), "--init", "--split", "test"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith("test split") and lines[1].split()[:5] == ["run", "in", "out", "other", "sd"]
    trained, fresh = (line.rsplit(maxsplit=7)[1:] for line in lines[2:4])
    assert lines[3].startswith("  (at initialisation)")
    for row in (trained, fresh):
        sal_in, sal_out, other, sd, aligned, memory, fg = (float(x) for x in row)
        assert all(x == x for x in (sal_in, sal_out, other))  # every kind of snippet was seen (no NaN)
        assert sd > 0 and aligned > 0 and memory > 0 and fg > 0  # swapping the query moves every stage
    assert trained != fresh  # the run's weights, not a second fresh model


def test_a_model_outside_the_detr_family_or_a_missing_folder_is_named_with_exit_2(
    runs: dict[str, Path],
    tmp_path: Path,
    capsys,  # noqa: ANN001
) -> None:
    assert main([str(runs["qd"]), str(runs["span"])]) == 2
    out, err = capsys.readouterr()
    assert out == "" and "'span' is not of the DETR family" in err and "Traceback" not in err
    assert main([str(tmp_path / "nowhere")]) == 2
    out, err = capsys.readouterr()
    assert out == "" and "nowhere" in err
