"""``pipeline.stats`` and the ``priors stats`` command."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from pipeline.cli import main
from pipeline.datasets import DATASETS
from pipeline.datasets.policies import RULES
from pipeline.stats import FIELDS, dataset_stats, format_stats, words
from tests.conftest import shared_path


def write_folder(root: Path) -> Path:
    rows = {
        "train": [
            {"qid": 1, "vid": "a", "duration": 10, "query": "A man opens the door.", "relevant_windows": [[0, 4]]},
            {
                "qid": 2,
                "vid": "a",
                "duration": 10,
                "query": "the man closes the door",
                "relevant_windows": [[6, 8], [8, 12]],
            },
            {"qid": 3, "vid": "b", "duration": 20, "query": "  ", "relevant_windows": [[1, 2]]},
        ],
        "test": [{"qid": 4, "vid": "c", "duration": 30, "query": "someone's dog barks"}],
    }
    for split, lines in rows.items():
        (root / f"{split}.jsonl").write_text("".join(json.dumps(r) + "\n" for r in lines))
    return root


def test_words_are_lowercased_and_skip_punctuation() -> None:
    assert words("A man's dog, running!") == ["a", "man's", "dog", "running"]


def test_dataset_stats_fields_and_values(tmp_path: Path) -> None:
    stats = dataset_stats(DATASETS.get("folder")(write_folder(tmp_path)))
    train, test = stats["splits"]["train"], stats["splits"]["test"]
    assert set(train) == {*FIELDS, "policies"}
    assert list(train["policies"]) == list(RULES)
    assert train == {
        "videos": 1,  # "b" only had a dropped (empty) query
        "queries": 3,
        "queries_kept": 2,
        "mean_moment_s": pytest.approx((4 + 2 + 2) / 3, abs=1e-4),  # [8, 12] clamped to [8, 10]; rounded to 4 places
        "mean_video_s": 10.0,
        "mean_query_words": 5.0,
        "vocabulary": 6,  # a man opens the door closes
        "policies": {
            **dict.fromkeys(RULES, 0),
            "stripped_whitespace": 1,
            "dropped_empty_query": 1,
            "clamped_end_to_duration": 1,
        },
    }
    assert test["mean_moment_s"] is None and test["policies"]["kept_without_windows"] == 1
    table = format_stats(stats)
    assert "queries_kept" in table and "clamped_end_to_duration" in table


def test_all_block_counts_each_video_once_and_averages_over_everything(tmp_path: Path) -> None:
    lines = {
        "train": [
            {"qid": 1, "vid": "a", "duration": 10, "query": "A man opens the door.", "relevant_windows": [[0, 4]]}
        ],
        "val": [
            {"qid": 2, "vid": "a", "duration": 10, "query": "a dog runs", "relevant_windows": [[2, 6]]},
            {"qid": 3, "vid": "b", "duration": 20, "query": "the cat sits", "relevant_windows": [[0, 10], [12, 20]]},
        ],
    }
    for split, rows in lines.items():
        (tmp_path / f"{split}.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    stats = dataset_stats(DATASETS.get("folder")(tmp_path))
    assert [stats["splits"][s]["videos"] for s in ("train", "val")] == [1, 2]  # "a" is in both splits
    whole = stats["all"]
    assert set(whole) == {*FIELDS, "policies"}
    assert whole["videos"] == 2  # not 1 + 2
    assert (whole["queries"], whole["queries_kept"]) == (3, 3)
    assert whole["mean_moment_s"] == pytest.approx((4 + 4 + 10 + 8) / 4)  # every window of every kept query
    assert whole["mean_video_s"] == pytest.approx((10 + 20) / 2)  # each unique video once (not 10, 10, 20)
    assert whole["mean_query_words"] == pytest.approx((5 + 3 + 3) / 3, abs=1e-4)  # rounded to 4 places
    assert whole["vocabulary"] == len({"a", "man", "opens", "the", "door", "dog", "runs", "cat", "sits"})


def test_all_block_sums_reads_and_policies(tmp_path: Path) -> None:
    stats = dataset_stats(DATASETS.get("folder")(write_folder(tmp_path)))
    whole, splits = stats["all"], stats["splits"]
    assert (whole["videos"], whole["queries"], whole["queries_kept"]) == (2, 4, 3)  # a and c; b lost its query
    assert whole["mean_moment_s"] == pytest.approx((4 + 2 + 2) / 3, abs=1e-4)  # c has no window
    assert whole["mean_video_s"] == pytest.approx((10 + 30) / 2)
    assert whole["policies"] == {rule: sum(s["policies"][rule] for s in splits.values()) for rule in RULES}
    table = format_stats(stats).splitlines()
    assert table[1].split() == ["test", "train", "all"]
    assert table[2].split() == ["videos", "1", "1", "2"]


def test_cli_json_and_table(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    root = write_folder(tmp_path)
    assert main(["stats", "folder", "--annotations", str(root), "--json"]) == 0
    printed = json.loads(capsys.readouterr().out)
    assert printed["splits"]["train"]["queries"] == 3 and printed["all"]["queries"] == 4
    assert main(["stats", "folder", "--annotations", str(root)]) == 0
    assert "dropped_empty_query" in capsys.readouterr().out


def test_cli_names_the_unknown_dataset(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["stats", "charades-sta", "--annotations", str(tmp_path)]) == 2
    assert "did you mean 'charades_sta'" in capsys.readouterr().err


@pytest.mark.shared_data
def test_charades_sta_stats(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["stats", "charades_sta", "--annotations", str(shared_path("charades_sta")), "--json"]) == 0
    printed = json.loads(capsys.readouterr().out)
    splits = printed["splits"]
    assert (splits["train"]["queries"], splits["test"]["queries"]) == (12408, 3720)
    assert printed["all"]["queries"] == 12408 + 3720
    assert printed["all"]["videos"] <= splits["train"]["videos"] + splits["test"]["videos"]
    assert splits["train"]["policies"]["swapped_reversed"] == 4
    assert splits["train"]["policies"]["dropped_start_past_duration"] == 3
    assert splits["train"]["policies"]["clamped_end_to_duration"] == 1805
    assert splits["test"]["policies"]["clamped_end_to_duration"] == 562
