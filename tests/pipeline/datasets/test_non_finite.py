"""Non-finite numbers (NaN, ±inf, integers too large for a float) and null video ids, in every
adapter: each one meets a named, counted policy (``pipeline.datasets.policies``) or an
``InputError`` naming file, line and field; no non-finite number reaches the Annotations."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import pytest

from groundwork.errors import InputError
from pipeline.cli import main
from pipeline.datasets import DATASETS
from pipeline.datasets import policies as P
from pipeline.datasets.base import Annotations

HUGE = int("1" + "0" * 400)  # a JSON integer no float can hold


def all_finite(value: Any) -> bool:
    """True when no float anywhere inside ``value`` (dicts, lists, tuples) is NaN or infinite."""
    if isinstance(value, float):
        return math.isfinite(value)
    if isinstance(value, dict):
        return all(all_finite(v) for v in value.values())
    if isinstance(value, list | tuple):
        return all(all_finite(v) for v in value)
    return True


def assert_finite(ann: Annotations) -> None:
    for q in ann.queries:
        assert all_finite([q.windows, q.duration, q.extra]), q
    for v in ann.videos.values():
        assert math.isfinite(v.duration), v


def write_jsonl(path: Path, rows: list[dict]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))  # json.dumps writes NaN / Infinity
    return path


def qvh(qid: int, windows: Any = ((1, 3),), duration: Any = 10.0, vid: Any = "v1", **kw: Any) -> dict:
    return {
        "qid": qid,
        "query": "a man waves",
        "vid": vid,
        "duration": duration,
        "relevant_windows": [list(w) for w in windows],
        **kw,
    }


# -- folder / qvhighlights ----------------------------------------------------------------------
def test_folder_nan_windows_are_dropped_and_counted(tmp_path: Path) -> None:
    """Regression: [NaN, 2] and [NaN, NaN] passed all five window rules uncounted and landed in
    the manifest (every comparison with NaN is false)."""
    nan, inf = float("nan"), float("inf")
    write_jsonl(
        tmp_path / "train.jsonl",
        [
            qvh(1, windows=((nan, 2.0),)),
            qvh(2, windows=((nan, nan),)),
            qvh(3, windows=((nan, 2.0), (4.0, 6.0))),  # the finite window is kept
            qvh(4, windows=((1.0, inf),)),
            qvh(5, windows=((-inf, 2.0),)),
            qvh(6, windows=((1.0, HUGE),)),
            qvh(7),
        ],
    )
    ann = DATASETS.get("folder")(tmp_path)
    assert {q.query_id: q.windows for q in ann.queries} == {"3": ((4.0, 6.0),), "7": ((1.0, 3.0),)}
    assert ann.policies.as_dict() == {"train": {P.DROPPED_NON_FINITE_WINDOW: 6}}
    assert_finite(ann)


def test_priors_stats_reports_the_rule_and_a_finite_mean(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Regression: ``priors stats`` printed a NaN mean moment length for a [NaN, 2] window."""
    write_jsonl(tmp_path / "train.jsonl", [qvh(1, windows=((float("nan"), 2.0),)), qvh(2)])
    assert main(["stats", "folder", "--annotations", str(tmp_path), "--json"]) == 0
    out = capsys.readouterr().out
    assert "NaN" not in out
    train = json.loads(out)["splits"]["train"]
    assert train["mean_moment_s"] == 2.0
    assert train["policies"][P.DROPPED_NON_FINITE_WINDOW] == 1
    assert train["queries"] == 2 and train["queries_kept"] == 1


def test_folder_non_finite_duration_drops_the_query_under_its_own_rule(tmp_path: Path) -> None:
    """Regression: a NaN / infinite duration was counted as an unknown video (and a 400-digit
    integer duration crashed ``float()`` with OverflowError)."""
    write_jsonl(
        tmp_path / "train.jsonl",
        [
            qvh(1, duration=float("nan")),
            qvh(2, vid="v2", duration=float("inf")),
            qvh(3, vid="v3", duration=HUGE),
            qvh(4, vid="v4", duration="nan"),
            qvh(5, vid="v5", duration=None),
            qvh(6, vid="v6"),
        ],
    )
    ann = DATASETS.get("folder")(tmp_path)
    assert [q.query_id for q in ann.queries] == ["6"]
    assert set(ann.videos) == {"v6"}
    assert ann.policies.as_dict() == {"train": {P.DROPPED_NON_FINITE_DURATION: 4, P.DROPPED_UNKNOWN_VIDEO: 1}}


def test_folder_non_finite_saliency_is_removed_and_counted(tmp_path: Path) -> None:
    """Regression: NaN saliency scores were passed through to the manifest's ``extra`` JSON."""
    good = {"relevant_clip_ids": [0, 1], "saliency_scores": [[1, 2, 3], [4, 4, 4]]}
    bad = {"relevant_clip_ids": [0, 1], "saliency_scores": [[1, float("nan"), 3], [4, 4, 4]]}
    write_jsonl(tmp_path / "train.jsonl", [qvh(1, **good), qvh(2, **bad)])
    ann = DATASETS.get("folder")(tmp_path)
    assert [q.extra for q in ann.queries] == [good, {}]  # query 2 keeps its window, loses its saliency
    assert [q.windows for q in ann.queries] == [((1.0, 3.0),), ((1.0, 3.0),)]
    assert ann.policies.as_dict() == {"train": {P.REMOVED_NON_FINITE_SALIENCY: 1}}
    assert_finite(ann)


@pytest.mark.parametrize(
    ("row", "field"),
    [
        (qvh(2, vid=None), "vid"),
        (qvh(2, vid=""), "vid"),
        (qvh(2, vid=["a"]), "vid"),
        (qvh(2, vid=float("nan")), "vid"),
        ({**qvh(2), "qid": None}, "qid"),
        ({**qvh(2), "qid": {"a": 1}}, "qid"),
        (qvh(2, relevant_clip_ids="0 1", saliency_scores=[[1]]), "relevant_clip_ids"),
        (qvh(2, relevant_clip_ids=[0, 1], saliency_scores=[[1, 2]]), "saliency_scores"),
    ],
)
def test_folder_malformed_ids_name_file_line_and_field(tmp_path: Path, row: dict, field: str) -> None:
    """Regression: ``"vid": null`` became a video named "None" (and ``"qid": null`` a query "None")."""
    write_jsonl(tmp_path / "train.jsonl", [qvh(1), row])
    with pytest.raises(InputError, match=rf"train.jsonl:2: field '{field}'"):
        DATASETS.get("folder")(tmp_path)


def test_qvhighlights_null_vid(tmp_path: Path) -> None:
    """Regression: the official-file adapter shares the line reader; ``"vid": null`` is refused."""
    for split in ("train", "val", "test"):
        write_jsonl(tmp_path / f"highlight_{split}_release.jsonl", [qvh(1 if split == "train" else 2)])
    write_jsonl(tmp_path / "highlight_val_release.jsonl", [qvh(2, vid=None)])
    with pytest.raises(InputError, match=r"highlight_val_release.jsonl:1: field 'vid'"):
        DATASETS.get("qvhighlights")(tmp_path)


# -- charades_sta (txt + csv) -------------------------------------------------------------------
def write_sta(root: Path, lines: list[str], lengths: dict[str, str]) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    (root / "charades_sta_train.txt").write_text("".join(f"{line}\n" for line in lines))
    (root / "charades_sta_test.txt").write_text("")
    csv = "id,length\n" + "".join(f"{vid},{length}\n" for vid, length in lengths.items())
    (root / "Charades_v1_train.csv").write_text(csv)
    (root / "Charades_v1_test.csv").write_text("id,length\n")
    return root


def test_charades_sta_nan_strings_are_counted(tmp_path: Path) -> None:
    """Regression: ``float("nan")`` parses the text "nan": "V1 nan 2.0" was kept as a NaN window."""
    root = write_sta(
        tmp_path,
        [
            "V1 nan 2.0##a person sits.",
            "V1 1.0 inf##a person stands.",
            "V1 1e999 2.0##a person runs.",
            "V1 1.0 2.0##a person waves.",
            "V2 1.0 2.0##a person eats.",
            "V3 1.0 2.0##a person cooks.",
        ],
        {"V1": "10.0", "V2": "nan", "V3": "inf"},
    )
    ann = DATASETS.get("charades_sta")(root)
    assert [(q.query_id, q.windows) for q in ann.queries] == [("train:4", ((1.0, 2.0),))]
    assert ann.policies.as_dict() == {"train": {P.DROPPED_NON_FINITE_WINDOW: 3, P.DROPPED_NON_FINITE_DURATION: 2}}
    assert_finite(ann)


# -- the video-json family (charades_cd/cg, activitynet(_cd), tacos) ----------------------------
def video_json(entries: dict[str, dict]) -> str:
    return json.dumps(entries)


def entry(timestamps: list, duration: Any = 20.0, key: str = "duration", **kw: Any) -> dict:
    return {
        "sentences": [f"a person does thing {i}." for i in range(len(timestamps))],
        "timestamps": timestamps,
        key: duration,
        **kw,
    }


@pytest.mark.parametrize(
    ("name", "files", "key"),
    [
        ("charades_cd", [f"charades_{s}.json" for s in ("train", "val", "test_iid", "test_ood")], "video_duration"),
        (
            "charades_cg",
            [f"{s}.json" for s in ("train", "test_trivial", "novel_composition", "novel_word")],
            "duration",
        ),
        ("activitynet", [f"{s}.json" for s in ("train", "val_1", "val_2")], "duration"),
        ("activitynet_cd", [f"anet_{s}.json" for s in ("val", "test_iid", "test_ood")], "duration"),
    ],
)
def test_video_json_adapters_count_non_finite(tmp_path: Path, name: str, files: list[str], key: str) -> None:
    """Regression: NaN timestamps passed the window rules; a NaN duration was an "unknown video"."""
    nan = float("nan")
    for f in files[1:]:
        (tmp_path / f).write_text("{}")
    (tmp_path / files[0]).write_text(
        video_json(
            {
                "A": entry([[nan, 2.0], [1.0, 2.0], [1.0, float("inf")]], key=key),
                "B": entry([[1.0, 2.0]], duration=nan, key=key),
                "C": entry([[1.0, 2.0]], duration=HUGE, key=key),
            }
        )
    )
    ann = DATASETS.get(name)(tmp_path)
    split = next(iter(ann.queries_read))
    assert [(q.video_id, q.windows) for q in ann.queries] == [("A", ((1.0, 2.0),))]
    assert ann.policies.as_dict() == {split: {P.DROPPED_NON_FINITE_WINDOW: 2, P.DROPPED_NON_FINITE_DURATION: 2}}
    assert_finite(ann)


def write_tacos(root: Path, entries: dict[str, dict]) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    (root / "train.json").write_text(video_json(entries))
    (root / "val.json").write_text("{}")
    (root / "test.json").write_text("{}")
    return root


def test_tacos_non_finite_fps_frames_and_timestamps(tmp_path: Path) -> None:
    """Regression: a NaN fps passed ``fps <= 0`` and turned every window and the duration into NaN;
    an infinite fps made the duration 0 (counted as an unknown video)."""
    nan, inf = float("nan"), float("inf")
    root = write_tacos(
        tmp_path,
        {
            "a.avi": entry([[30, 60], [nan, 60]], duration=300, key="num_frames", fps=30.0),
            "b.avi": entry([[30, 60], [40, 50]], duration=300, key="num_frames", fps=nan),
            "c.avi": entry([[30, 60]], duration=300, key="num_frames", fps=inf),
            "d.avi": entry([[30, 60]], duration=nan, key="num_frames", fps=30.0),
        },
    )
    ann = DATASETS.get("tacos")(root)
    assert [(q.query_id, q.windows) for q in ann.queries] == [("train:a:0", ((1.0, 2.0),))]
    assert ann.policies.as_dict() == {"train": {P.DROPPED_NON_FINITE_WINDOW: 1, P.DROPPED_NON_FINITE_DURATION: 4}}
    assert_finite(ann)


@pytest.mark.parametrize(
    ("entries", "message"),
    [
        ({".avi": entry([[30, 60]], duration=300, key="num_frames", fps=30.0)}, r"train.json:\.avi: field 'video id'"),
        ({"a.avi": entry([[30, 60]], duration=300, key="num_frames", fps="30")}, r"train.json:a.avi: field 'fps'"),
        (
            {"a.avi": {"sentences": "abc", "timestamps": [[1, 2]], "num_frames": 3, "fps": 1}},
            r"train.json:a.avi: field 'sentences'",
        ),
    ],
)
def test_tacos_malformed_entries_name_the_field(tmp_path: Path, entries: dict, message: str) -> None:
    """Regression: an empty video id was accepted, a string fps crashed with TypeError, and a
    string ``sentences`` was read letter by letter."""
    with pytest.raises(InputError, match=message):
        DATASETS.get("tacos")(write_tacos(tmp_path, entries))


# -- vidstg --------------------------------------------------------------------------------------
def segment(i: int, **changes: Any) -> dict:
    base = {
        "vid": f"v{i}",
        "fps": 10.0,
        "frame_count": 200,
        "used_segment": {"begin_fid": 0, "end_fid": 199},
        "subject/objects": [{"tid": 0, "category": "adult"}],
        "used_relation": {"subject_tid": 0, "object_tid": 0, "predicate": "watch", "begin_fid": 10, "end_fid": 50},
        "temporal_gt": {"begin_fid": 10, "end_fid": 50},
        "captions": [{"description": "an adult watches.", "type": "person", "target_id": 0}],
        "questions": [],
    }
    return {**base, **changes}


def write_vidstg(root: Path, segments: list[dict]) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    (root / "val_annotations.json").write_text(json.dumps(segments))
    (root / "test_annotations.json").write_text("[]")
    return root


def test_vidstg_non_finite_fps_frames_gt_and_metadata(tmp_path: Path) -> None:
    """Regression: a NaN fps or frame count became a NaN duration (uncounted "unknown video"), a
    NaN ground-truth frame a NaN window, and a NaN segment bound went into ``extra`` as is."""
    nan = float("nan")
    root = write_vidstg(
        tmp_path,
        [
            segment(0),
            segment(1, fps=nan),
            segment(2, frame_count=float("inf")),
            segment(3, temporal_gt={"begin_fid": nan, "end_fid": 50}),
            segment(4, used_segment={"begin_fid": 0, "end_fid": nan}),
            segment(5, used_relation={"subject_tid": 0, "object_tid": 0, "predicate": "x", "begin_fid": nan}),
        ],
    )
    ann = DATASETS.get("vidstg")(root)
    kept = {q.video_id: q for q in ann.queries}
    assert sorted(kept) == ["v0", "v4", "v5"]
    assert kept["v0"].extra["segment"] == [0.0, 19.9]
    assert "segment" not in kept["v4"].extra and "relation" not in kept["v5"].extra
    assert kept["v4"].windows == ((1.0, 5.0),)
    assert ann.policies.as_dict() == {
        "val": {P.DROPPED_NON_FINITE_DURATION: 2, P.DROPPED_NON_FINITE_WINDOW: 1, P.REMOVED_NON_FINITE_EXTRA: 2}
    }
    assert_finite(ann)


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"vid": None}, r"\[0\]: field 'vid'"),
        ({"vid": ""}, r"\[0\]: field 'vid'"),
        ({"fps": "ten"}, r"\[0\]: field 'fps'"),
        ({"frame_count": "200"}, r"\[0\]: field 'frame_count'"),
        ({"temporal_gt": {"begin_fid": "a", "end_fid": 5}}, r"\[0\].temporal_gt: field 'begin_fid'"),
        ({"used_segment": [0, 1]}, r"\[0\]: field 'used_segment'"),
        ({"subject/objects": [{"tid": 0}]}, r"\[0\].subject/objects\[0\]: missing field 'category'"),
        ({"captions": [{"description": 3, "target_id": 0}]}, r"\[0\].captions\[0\]: field 'description'"),
        ({"captions": [{"description": "x", "target_id": [0]}]}, r"\[0\].captions\[0\]: field 'target_id'"),
    ],
)
def test_vidstg_malformed_entries_name_the_field(tmp_path: Path, changes: dict, message: str) -> None:
    """Regression: ``"vid": null`` became a video "None"; a string fps / frame count / frame id
    crashed with TypeError or a ValueError naming nothing; a malformed object list raised KeyError."""
    with pytest.raises(InputError, match=r"val_annotations.json" + message):
        DATASETS.get("vidstg")(write_vidstg(tmp_path, [segment(0, **changes)]))
