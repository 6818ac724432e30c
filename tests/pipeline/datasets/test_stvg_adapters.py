"""STVG adapters: ``vidstg`` with VidOR boxes (the demo's files, and hand-made ones for the
counted policies), ``demo_stvg`` (generated, boxes round-trip), ``hcstvg`` (v1 and v2 files),
and the sentence-type counts of ``priors stats``."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from groundwork.errors import InputError
from groundwork.stvg import STVG_KEY, StvgQuery
from pipeline.datasets import DATASETS
from pipeline.datasets.tubes import DROPPED_WITHOUT_GT_BOXES, FILLED_GT_BOX
from pipeline.demo.stvg import generate_stvg_demo
from pipeline.stats import dataset_stats, format_stats

SMALL = (3, 1, 1)


@pytest.fixture(scope="module")
def stvg_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return generate_stvg_demo(tmp_path_factory.mktemp("demo_stvg"), seed=0, n_videos=SMALL)


def _vidor_boxes(folder: Path, vid: str) -> dict[tuple[str, int], list[float]]:
    (path,) = folder.glob(f"annotation/*/*/{vid}.json")
    frames = json.loads(path.read_text())["trajectories"]
    return {
        (str(item["tid"]), fid): [item["bbox"][k] for k in ("xmin", "ymin", "xmax", "ymax")]
        for fid, items in enumerate(frames)
        for item in items
    }


def test_demo_stvg_boxes_round_trip(stvg_dir: Path) -> None:
    ann = DATASETS.get("demo_stvg")(stvg_dir)
    entries = sum(len(json.loads((stvg_dir / f"{s}_annotations.json").read_text())) for s in ("train", "val", "test"))
    assert ann.name == "demo_stvg" and sum(ann.queries_read.values()) >= entries
    assert all(v.path is not None and v.path.suffix == ".mp4" for v in ann.videos.values())  # <dir>/video/<group>/
    assert ann.policies.as_dict() == {} or not any(
        c.get(DROPPED_WITHOUT_GT_BOXES) for c in ann.policies.as_dict().values()
    )
    for q in ann.queries:
        block = StvgQuery.from_extra(q.extra)
        assert block is not None and q.extra["sentence_type"] in ("declarative", "interrogative")
        tube = ann.tubes[(q.video_id, block.target_id)]
        vidor = _vidor_boxes(stvg_dir, q.video_id)
        frames = block.gt_frames()
        assert frames, q.query_id
        for f in frames:  # every grid frame of the GT tube has its VidOR box, unchanged
            assert list(tube[f]) == vidor[(block.target_id, f)]
        s, e = block.gt_sted
        assert q.windows == (pytest.approx((s / block.fps, e / block.fps)),)


def test_demo_stvg_is_generated_when_missing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import pipeline.datasets.demo_stvg as mod

    calls = []
    monkeypatch.setattr(
        mod, "generate_stvg_demo", lambda d: calls.append(d) or generate_stvg_demo(d, n_videos=(1, 1, 1))
    )
    ann = DATASETS.get("demo_stvg")(tmp_path / "d")
    assert calls == [tmp_path / "d"] and ann.queries
    DATASETS.get("demo_stvg")(tmp_path / "d")
    assert len(calls) == 1  # the second call reads what is there


def _entry(vid: str, target: int, gt: tuple[int, int]) -> dict:
    return {
        "vid": vid,
        "fps": 10.0,
        "frame_count": 40,
        "used_segment": {"begin_fid": 0, "end_fid": 39},
        "width": 100,
        "height": 50,
        "subject/objects": [{"tid": 0, "category": "dog"}, {"tid": 1, "category": "cat"}],
        "used_relation": {
            "subject_tid": target,
            "object_tid": 0,
            "predicate": "chase",
            "begin_fid": gt[0],
            "end_fid": gt[1],
        },
        "temporal_gt": {"begin_fid": gt[0], "end_fid": gt[1]},
        "captions": [{"description": "the cat chases the dog.", "type": "object", "target_id": target}],
        "questions": [{"description": "what chases the dog?", "type": "object", "target_id": target}],
    }


def _vidor(root: Path, vid: str, boxes: dict[int, dict[int, list[float]]], n: int = 40) -> None:
    traj = [
        [
            {"tid": tid, "bbox": dict(zip(("xmin", "ymin", "xmax", "ymax"), track[f], strict=True)), "generated": 0}
            for tid, track in boxes.items()
            if f in track
        ]
        for f in range(n)
    ]
    path = root / "vidor" / "training" / "0000" / f"{vid}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"video_id": vid, "trajectories": traj}))


def test_vidstg_boxes_fill_gaps_and_drop_targets_without_boxes(tmp_path: Path) -> None:
    # v0: the cat (tid 1) annotated on 10..19 but not on 14 (a gap); v1: tid 1 has no box at all
    cat = {f: [f, 1.0, f + 10.0, 11.0] for f in range(10, 20) if f != 14}
    _vidor(tmp_path, "v0", {1: cat, 0: {f: [0, 0, 5, 5] for f in range(40)}})
    _vidor(tmp_path, "v1", {0: {f: [0, 0, 5, 5] for f in range(40)}})
    (tmp_path / "val_annotations.json").write_text(json.dumps([_entry("v0", 1, (10, 20)), _entry("v1", 1, (10, 20))]))
    (tmp_path / "test_annotations.json").write_text("[]")
    ann = DATASETS.get("vidstg")(tmp_path, boxes=tmp_path / "vidor")
    assert {q.video_id for q in ann.queries} == {"v0"}
    assert ann.policies.as_dict() == {"val": {DROPPED_WITHOUT_GT_BOXES: 2, FILLED_GT_BOX: 2}}  # 2 sentences each
    assert ann.queries_read == {"val": 4}
    tube = ann.tubes[("v0", "1")]
    block = StvgQuery.from_extra(ann.queries[0].extra)
    assert block.grid() == list(range(0, 39, 2)) and sorted(tube) == [10, 12, 14, 16, 18]  # 5 fps of 10 fps
    assert tube[14] == (13.0, 1.0, 23.0, 11.0)  # filled from frame 13 (nearest; 15 ties later)
    assert (block.width, block.height, block.segment, block.gt_sted) == (100, 50, (0, 39), (10, 20))
    # without a box source only the temporal part is read (the STVG block stays, no tubes)
    plain = DATASETS.get("vidstg")(tmp_path)
    assert len(plain.queries) == 4 and plain.tubes == {} and all(STVG_KEY in q.extra for q in plain.queries)


def test_vidstg_bad_vidor_box_names_file_and_frame(tmp_path: Path) -> None:
    _vidor(tmp_path, "v0", {1: {f: [5.0, 1.0, 2.0, 11.0] for f in range(10, 20)}})
    (tmp_path / "val_annotations.json").write_text(json.dumps([_entry("v0", 1, (10, 20))]))
    (tmp_path / "test_annotations.json").write_text("[]")
    with pytest.raises(InputError, match=r"v0.json: trajectories\[10\]\[0\]: box"):
        DATASETS.get("vidstg")(tmp_path, boxes=tmp_path / "vidor")
    with pytest.raises(InputError, match="VidOR annotation folder"):
        DATASETS.get("vidstg")(tmp_path, boxes=tmp_path / "nowhere")


def _hc_entry(v2: bool, first: int = 30, n: int = 6) -> dict:
    entry = {
        "bbox": [[10 + k, 20, 30, 40] for k in range(n)],
        "st_frame": first,
        "st_time": 1.2,
        "ed_time": 1.5,
        "img_num": 500,
    }
    if v2:
        return {**entry, "English": "The man in white turns and walks away.", "img_size": [360, 640]}
    return {**entry, "caption": "The man in white turns and walks away.", "width": 640, "height": 360}


@pytest.mark.parametrize(("name", "v2"), [("test.json", False), ("val_v2.json", True)])
def test_hcstvg_v1_and_v2(tmp_path: Path, name: str, v2: bool) -> None:
    (tmp_path / name).write_text(json.dumps({"abc_123.mp4": _hc_entry(v2), "xyz.mp4": _hc_entry(v2, 100, 3)}))
    ann = DATASETS.get("hcstvg")(tmp_path)
    split = name.split(".")[0].removesuffix("_v2")
    assert [q.query_id for q in ann.queries] == [f"{split}:abc_123", f"{split}:xyz"]
    q = ann.queries[0]
    block = StvgQuery.from_extra(q.extra)
    assert (block.fps, block.frame_count, block.width, block.height) == (25.0, 500, 640, 360)
    assert (block.segment, block.gt_sted, block.dataset, block.target_id) == ((0, 499), (30, 36), "hcstvg", "0")
    assert q.duration == 20.0 and q.windows == (pytest.approx((30 / 25, 36 / 25)),)
    assert q.extra["st_time"] == 1.2 and "sentence_type" not in q.extra
    tube = ann.tubes[("abc_123", "0")]
    assert sorted(tube) == block.gt_frames() == [30, 35]  # the 5 fps grid of a 25 fps video: every 5th frame
    assert tube[35] == (15.0, 20.0, 45.0, 60.0)  # [x, y, w, h] of frame 30 + 5 as [x1, y1, x2, y2]


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"bbox": [[1, 2, 3]]}, r"bbox\[0\]: a box must be four numbers"),
        ({"bbox": [[1, 2, -3, 4]]}, r"bbox\[0\] = \[x, y, w, h\]"),
        ({"img_num": "500"}, "field 'img_num'"),
        ({"img_size": [360]}, "field 'img_size'"),
    ],
)
def test_hcstvg_malformed_entries_name_the_field(tmp_path: Path, change: dict, message: str) -> None:
    (tmp_path / "train.json").write_text(json.dumps({"a.mp4": {**_hc_entry(True), **change}}))
    with pytest.raises(InputError, match=r"train.json\['a.mp4'\]" + ".*" + message):
        DATASETS.get("hcstvg")(tmp_path)


def test_hcstvg_needs_a_file(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="holds no HC-STVG file"):
        DATASETS.get("hcstvg")(tmp_path)


def test_stats_count_sentence_types(stvg_dir: Path) -> None:
    stats = dataset_stats(DATASETS.get("demo_stvg")(stvg_dir))
    types = stats["all"]["sentence_types"]
    assert set(types) == {"declarative", "interrogative"}
    assert sum(types.values()) == stats["all"]["queries_kept"]
    assert "sentences: interrogative" in format_stats(stats)


def test_dataset_options_reach_the_adapter(tmp_path: Path) -> None:
    """``priors run --dataset-options boxes=DIR``: the VidOR folder reaches the vidstg adapter; an
    option an adapter does not take is an error naming it."""
    from pipeline.config import PriorsConfig
    from pipeline.prepare import load_annotations

    _vidor(tmp_path, "v0", {1: {f: [f, 1.0, f + 10.0, 11.0] for f in range(10, 20)}})
    (tmp_path / "val_annotations.json").write_text(json.dumps([_entry("v0", 1, (10, 20))]))
    (tmp_path / "test_annotations.json").write_text("[]")
    config = PriorsConfig(
        dataset="vidstg",
        annotations=tmp_path,
        model="shapes",
        backend="shapes",
        dataset_options={"boxes": str(tmp_path / "vidor")},
    )
    assert load_annotations(config.dataset, config.annotations, None, config.dataset_options).tubes
    with pytest.raises(InputError, match=r"takes no option \['colour'\]"):
        load_annotations("vidstg", tmp_path, None, {"colour": 1})
    # priors stats takes the same options
    from pipeline.cli import main

    assert (
        main(
            [
                "stats",
                "vidstg",
                "--annotations",
                str(tmp_path),
                "--dataset-options",
                f"boxes={tmp_path / 'vidor'}",
                "--json",
            ]
        )
        == 0
    )
    assert main(["stats", "vidstg", "--annotations", str(tmp_path), "--dataset-options", "colour=1"]) == 2
