"""The spatio-temporal demo: the VidSTG entries and VidOR trajectory files load as JSON with the
documented fields, their boxes hold the shapes' pixels (rendered and decoded), the sentences come
in both forms and need more than the words to find the box, and the same seed gives the same
bytes."""

from __future__ import annotations

import json
import random
from pathlib import Path

import numpy as np
import pytest

from pipeline.demo.shapes import BACKGROUND, FPS, SIZE
from pipeline.demo.stvg import STVG_WORLD, generate_stvg_demo
from pipeline.demo.world import make_script, render_with_boxes
from pipeline.frames import FrameSampler

SMALL = (3, 1, 1)
ENTRY_FIELDS = [
    "vid",
    "fps",
    "frame_count",
    "used_segment",
    "width",
    "height",
    "subject/objects",
    "used_relation",
    "temporal_gt",
    "captions",
    "questions",
]


@pytest.fixture(scope="module")
def stvg_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return generate_stvg_demo(tmp_path_factory.mktemp("stvg"), seed=0, n_videos=SMALL)


def _entries(folder: Path) -> dict[str, list[dict]]:
    return {s: json.loads((folder / f"{s}_annotations.json").read_text()) for s in ("train", "val", "test")}


def _vidor(folder: Path, vid: str) -> dict:
    (path,) = folder.glob(f"annotation/*/*/{vid}.json")
    return json.loads(path.read_text())


def test_layout_and_fields(stvg_dir: Path) -> None:
    entries = _entries(stvg_dir)
    files = {s: json.loads((stvg_dir / f"{s}_files.json").read_text()) for s in entries}
    assert [len(files[s]) for s in ("train", "val", "test")] == list(SMALL)
    for split, rows in entries.items():
        assert rows and {e["vid"] for e in rows} <= set(files[split])
        partition = "validation" if split == "test" else "training"
        for vid in files[split]:
            assert len(list(stvg_dir.glob(f"video/*/{vid}.mp4"))) == 1
            assert len(list(stvg_dir.glob(f"annotation/{partition}/*/{vid}.json"))) == 1
        for e in rows:
            assert list(e) == ENTRY_FIELDS
            n = e["frame_count"]
            assert (e["fps"], e["width"], e["height"]) == (FPS, SIZE, SIZE)
            seg, gt, rel = e["used_segment"], e["temporal_gt"], e["used_relation"]
            assert 0 <= seg["begin_fid"] <= gt["begin_fid"] < gt["end_fid"] <= seg["end_fid"] + 1 <= n
            assert (rel["begin_fid"], rel["end_fid"]) == (gt["begin_fid"], gt["end_fid"])
            tids = {o["tid"] for o in e["subject/objects"]}
            assert rel["subject_tid"] in tids and {o["category"] for o in e["subject/objects"]} <= {
                "circle",
                "square",
                "triangle",
            }
            assert len(e["captions"]) == 1 and len(e["questions"]) <= 2
            for sentence in e["captions"] + e["questions"]:
                assert set(sentence) == {"description", "type", "target_id"}
                assert sentence["target_id"] == rel["subject_tid"] and sentence["type"] == "object"
            assert " that " in e["captions"][0]["description"]
            assert all(q["description"].endswith("?") for q in e["questions"])


def test_trajectories_cover_every_frame_and_the_target_during_its_window(stvg_dir: Path) -> None:
    for e in (e for rows in _entries(stvg_dir).values() for e in rows):
        vidor = _vidor(stvg_dir, e["vid"])
        assert vidor["video_path"].endswith(f"/{e['vid']}.mp4") and vidor["frame_count"] == e["frame_count"]
        traj = vidor["trajectories"]
        assert len(traj) == e["frame_count"]
        for k in range(e["temporal_gt"]["begin_fid"], e["temporal_gt"]["end_fid"]):
            target = [o for o in traj[k] if o["tid"] == e["used_relation"]["subject_tid"]]
            assert len(target) == 1, (e["vid"], k)
            assert set(target[0]) == {"tid", "bbox", "generated", "tracker"}
            assert set(target[0]["bbox"]) == {"xmin", "ymin", "xmax", "ymax"}


def test_boxes_hold_the_rendered_and_the_decoded_pixels(stvg_dir: Path) -> None:
    rng = random.Random(0)
    scripts = [make_script(f"stvg_{i:03d}", rng, STVG_WORLD) for i in range(sum(SMALL))]
    for script in scripts[:2]:
        traj = _vidor(stvg_dir, script.video_id)["trajectories"]
        decoded = FrameSampler(interval=1.0 / FPS).sample(next(stvg_dir.glob(f"video/*/{script.video_id}.mp4")))
        assert decoded.ok and len(decoded.frames) == script.n_frames
        for k in range(0, script.n_frames, 7):
            image, boxes = render_with_boxes(script, k)
            written = {o["tid"]: tuple(o["bbox"].values()) for o in traj[k]}
            assert written == boxes
            covered = np.zeros((SIZE, SIZE), bool)
            for x0, y0, x1, y1 in boxes.values():
                covered[y0:y1, x0:x1] = True
            drawn = (image != BACKGROUND.astype(np.uint8)).any(-1)
            assert drawn.sum() > 0 and not (drawn & ~covered).any()  # every drawn pixel inside a box
            loose = np.zeros_like(covered)
            for x0, y0, x1, y1 in boxes.values():
                loose[max(0, y0 - 2) : y1 + 2, max(0, x0 - 2) : x1 + 2] = True
            seen = np.abs(decoded.frames[k].astype(np.float32) - BACKGROUND).sum(-1) > 60
            assert not (seen & ~loose).any(), f"{script.video_id} frame {k}: decoded pixels outside the boxes"
            for x0, y0, x1, y1 in boxes.values():  # and each box is tight: its shape fills it
                assert drawn[y0:y1, x0:x1].mean() > 0.45


def test_distractors_share_an_attribute_and_questions_need_the_action(stvg_dir: Path) -> None:
    rows = [e for rs in _entries(stvg_dir).values() for e in rs]
    for vid in {e["vid"] for e in rows}:
        categories = [o["category"] for o in next(e for e in rows if e["vid"] == vid)["subject/objects"]]
        assert len(categories) >= 2
    ambiguous = [
        q["description"]
        for e in rows
        for q in e["questions"]
        if q["description"].startswith("which ") and not q["description"].startswith("which shape")
    ]
    assert ambiguous, "some questions should name a kind or colour that a distractor shares"
    assert any(q["description"].startswith(("what ", "which shape ")) for e in rows for q in e["questions"])


def test_same_seed_same_bytes(stvg_dir: Path, tmp_path: Path) -> None:
    again = generate_stvg_demo(tmp_path / "again", seed=0, n_videos=SMALL)
    for path in sorted(stvg_dir.rglob("*.json")):
        assert (again / path.relative_to(stvg_dir)).read_bytes() == path.read_bytes(), path.name
    for path in sorted(stvg_dir.rglob("*.mp4")):
        first, second = (
            FrameSampler(interval=1.0).sample(path),
            FrameSampler(interval=1.0).sample(again / path.relative_to(stvg_dir)),
        )
        np.testing.assert_array_equal(first.frames, second.frames)


@pytest.mark.slow
def test_full_size_and_the_vidstg_adapter_reads_it(tmp_path: Path) -> None:
    """The default sizes (60 / 20 / 20 videos), read by the real VidSTG adapter with the videos
    found under ``video/``."""
    from pipeline.datasets import DATASETS

    folder = generate_stvg_demo(tmp_path / "stvg")
    entries = _entries(folder)
    assert {s: len({e["vid"] for e in rows}) for s, rows in entries.items()} == {"train": 60, "val": 20, "test": 20}
    ann = DATASETS.get("vidstg")(folder, folder / "video")
    n_sentences = sum(1 + len(e["questions"]) for rows in entries.values() for e in rows)
    assert len(ann.queries) == n_sentences
    assert all(v.path is not None and v.path.exists() for v in ann.videos.values())
