"""The generic ``folder`` adapter on small JSONL files written by the test."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from pipeline.datasets import DATASETS
from pipeline.datasets import policies as P

load_folder = DATASETS.get("folder")


def write_jsonl(path: Path, rows: list[dict | str]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join((r if isinstance(r, str) else json.dumps(r)) + "\n" for r in rows))
    return path


def row(qid: int, vid: str = "v1", query: str = "a red square moves left", windows=((1, 3),), duration=10.0, **kw):
    """One QVHighlights-format line."""
    windows = [list(w) for w in windows]
    return {"qid": qid, "query": query, "vid": vid, "duration": duration, "relevant_windows": windows, **kw}


def test_reads_splits_videos_and_saliency(tmp_path: Path) -> None:
    saliency = {"relevant_clip_ids": [0, 1], "saliency_scores": [[1, 2, 3], [4, 4, 4]]}
    write_jsonl(tmp_path / "train.jsonl", [row(1, **saliency), row(2, vid="v2", windows=((0, 2), (4, 6)))])
    test = {"qid": 3, "query": "a blue circle appears", "vid": "v3", "duration": 8}
    write_jsonl(tmp_path / "test.jsonl", [test])
    (tmp_path / "videos").mkdir()
    (tmp_path / "videos" / "v1.mp4").write_bytes(b"")
    (tmp_path / "videos" / "v2.webm").write_bytes(b"")

    ann = load_folder(tmp_path)
    assert ann.queries_read == {"test": 1, "train": 2}
    assert [(q.query_id, q.split, q.windows) for q in ann.queries] == [
        ("3", "test", ()),
        ("1", "train", ((1.0, 3.0),)),
        ("2", "train", ((0.0, 2.0), (4.0, 6.0))),
    ]
    assert ann.queries[1].extra == saliency
    assert ann.videos["v1"].path == tmp_path / "videos" / "v1.mp4"
    assert ann.videos["v2"].path == tmp_path / "videos" / "v2.webm"
    assert ann.videos["v3"].path is None  # no file: the video is known, its path is not
    assert ann.policies.as_dict() == {"test": {P.KEPT_WITHOUT_WINDOWS: 1}}


def test_explicit_video_root_is_searched_recursively(tmp_path: Path) -> None:
    write_jsonl(tmp_path / "ann" / "val.jsonl", [row(1)])
    (tmp_path / "media" / "0001").mkdir(parents=True)
    (tmp_path / "media" / "0001" / "v1.mkv").write_bytes(b"")
    ann = load_folder(tmp_path / "ann", tmp_path / "media")
    assert ann.videos["v1"].path == tmp_path / "media" / "0001" / "v1.mkv"
    with pytest.raises(ValueError, match="video root .*nowhere does not exist"):
        load_folder(tmp_path / "ann", tmp_path / "nowhere")


def test_every_policy_is_applied_and_counted(tmp_path: Path) -> None:
    write_jsonl(
        tmp_path / "train.jsonl",
        [
            row(1, windows=((6, 2),)),  # reversed -> swapped
            row(2, windows=((4, 12),)),  # end past duration -> clamped
            row(3, windows=((11, 12),)),  # start past duration -> clamped, then dropped with its query
            row(4, windows=((3, 3), (5, 7))),  # zero-length window dropped, the other kept
            row(5, query="   "),  # empty query -> dropped
            row(6, query="  a man waves \n"),  # surrounding whitespace -> stripped
            row(7, duration=None),  # no duration -> dropped as unknown video
            row(8, windows=()),  # labelled split, but no window at all -> dropped
            row(9, windows=((-1, 2),)),  # negative start -> clamped to 0
        ],
    )
    ann = load_folder(tmp_path)
    assert {q.query_id: q.windows for q in ann.queries} == {
        "1": ((2.0, 6.0),),
        "2": ((4.0, 10.0),),
        "4": ((5.0, 7.0),),
        "6": ((1.0, 3.0),),
        "9": ((0.0, 2.0),),
    }
    assert next(q.text for q in ann.queries if q.query_id == "6") == "a man waves"
    assert ann.policies.as_dict()["train"] == {
        P.SWAPPED_REVERSED: 1,
        P.CLAMPED_END_TO_DURATION: 2,
        P.DROPPED_START_PAST_DURATION: 1,
        P.DROPPED_ZERO_LENGTH: 1,
        P.DROPPED_EMPTY_QUERY: 1,
        P.STRIPPED_WHITESPACE: 2,
        P.DROPPED_UNKNOWN_VIDEO: 1,
        P.DROPPED_WITHOUT_WINDOWS: 1,
        P.CLAMPED_START_TO_ZERO: 1,
    }
    assert ann.queries_read == {"train": 9}


def test_a_video_keeps_its_first_duration(tmp_path: Path) -> None:
    write_jsonl(tmp_path / "train.jsonl", [row(1, duration=10.0), row(2, duration=4.0, windows=((1, 6),))])
    ann = load_folder(tmp_path)
    assert ann.videos["v1"].duration == 10.0
    assert [q.windows for q in ann.queries] == [((1.0, 3.0),), ((1.0, 6.0),)]
    assert ann.policies.as_dict() == {"train": {P.CONFLICTING_VIDEO_DURATION: 1}}


@pytest.mark.parametrize(
    ("bad", "message"),
    [
        ({"qid": 2, "query": "x", "duration": 5, "relevant_windows": [[0, 1]]}, r"train.jsonl:2: missing field 'vid'"),
        (
            {"qid": 2, "vid": "v", "query": "x", "relevant_windows": [[0, 1]]},
            r"train.jsonl:2: missing field 'duration'",
        ),
        ({"vid": "v", "query": "x", "duration": 5}, r"train.jsonl:2: missing field 'qid'"),
        ('{"qid": 2, "query": ', r"train.jsonl:2: not valid JSON"),
        ("[1, 2]", r"train.jsonl:2: expected a JSON object"),
        (row(2, windows=((0, 1, 2),)), r"train.jsonl:2 relevant_windows: a window must be \[start, end\]"),
        (row(2, query=3), r"train.jsonl:2: field 'query' must be a string"),
        (row(1), r"train.jsonl:2: duplicate query id '1' \(first seen at .*train.jsonl:1\)"),
    ],
)
def test_bad_lines_name_file_line_and_field(tmp_path: Path, bad, message: str) -> None:
    write_jsonl(tmp_path / "train.jsonl", [row(1), bad])
    with pytest.raises(ValueError, match=message):
        load_folder(tmp_path)


def test_a_folder_without_jsonl_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=r"no <split>.jsonl files found"):
        load_folder(tmp_path)
