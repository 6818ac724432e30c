"""tools/detr_probe.py: its two helpers on hand cases, and the probe end to end on a tiny trained
``qd_detr`` run (and a ``span`` run, which it must refuse by name; tests/tools/conftest.py)."""

from __future__ import annotations

from pathlib import Path

import torch

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


def test_probe_prints_the_run_and_its_architecture_at_initialisation(tiny_runs: dict[str, Path], capsys) -> None:  # noqa: ANN001
    assert main([str(tiny_runs["qd"]), "--init", "--split", "test"]) == 0
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
    tiny_runs: dict[str, Path],
    tmp_path: Path,
    capsys,  # noqa: ANN001
) -> None:
    assert main([str(tiny_runs["qd"]), str(tiny_runs["span"])]) == 2
    out, err = capsys.readouterr()
    assert out == "" and "'span' is not of the DETR family" in err and "Traceback" not in err
    assert main([str(tmp_path / "nowhere")]) == 2
    out, err = capsys.readouterr()
    assert out == "" and "nowhere" in err
