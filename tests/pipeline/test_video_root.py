"""A run whose videos are missing: none found stops before Ray starts (naming the root and the
count), text-only kinds need no video, some missing get one error row per video and kind (not
one per request), and the report carries the dataset's policy counts."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from groundwork.atomic import atomic_write_text
from groundwork.cache.store import CacheStore
from groundwork.errors import MissingInputError
from pipeline.cli import main
from pipeline.datasets import DATASETS
from pipeline.frames import time_grid
from pipeline.prepare import prepare
from tests.pipeline.priors_fixtures import demo_dir, priors_config  # noqa: F401 - fixture
from tests.pipeline.soak_backends import register

FAKE = register()


def _config(demo: Path, tmp: Path, **overrides):  # noqa: ANN202
    return priors_config(demo, Path("fake-model"), tmp / "cache", tmp / "m.parquet", backend=FAKE, **overrides)


def test_regression_no_video_found_stops_before_ray(demo_dir: Path, tmp_path: Path) -> None:  # noqa: F811
    """Regression: with no --video-root, a real dataset ran for minutes writing an error row per
    frame request ("video 'HTCKH' has no file") before anyone stopped it."""
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(MissingInputError) as exc:
        prepare(_config(demo_dir, tmp_path, video_root=empty))
    text = str(exc.value)
    assert f"video root {empty}: found 0 of the 3 videos of demo" in text
    assert "--allow-missing-videos" in text
    assert "clip_caption, narrative need their frames" in text


def test_the_cli_says_it_in_one_line_and_exit_2(
    demo_dir: Path,
    tmp_path: Path,  # noqa: F811
    capsys: pytest.CaptureFixture,
) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    code = main(
        [
            "run",
            "demo",
            "--annotations",
            str(demo_dir),
            "--video-root",
            str(empty),
            "--model",
            "fake-model",
            "--backend",
            FAKE,
            "--cache",
            str(tmp_path / "cache"),
            "--no-progress",
        ]
    )
    err = capsys.readouterr().err.strip()
    assert code == 2 and len(err.splitlines()) == 1 and "found 0 of the 3 videos" in err
    assert not (tmp_path / "cache").exists()


def test_text_only_kinds_and_the_flag_are_not_refused(
    demo_dir: Path,
    tmp_path: Path,  # noqa: F811
    capsys: pytest.CaptureFixture,
) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    prep = prepare(_config(demo_dir, tmp_path, video_root=empty, kinds=["query_rewrite"]))
    assert prep.missing_videos == [] and len(prep.videos) == 3
    prep = prepare(_config(demo_dir, tmp_path, video_root=empty, allow_missing_videos=True))
    assert sorted(prep.missing_videos) == sorted(v.video_id for v in prep.videos)
    assert "3 of 3 videos of demo have no file" in capsys.readouterr().err


def test_some_missing_are_said_up_front(demo_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:  # noqa: F811
    videos = tmp_path / "videos"
    shutil.copytree(demo_dir / "videos", videos)
    gone = sorted(videos.glob("*.mp4"))[0]
    gone.unlink()
    prep = prepare(_config(demo_dir, tmp_path, video_root=videos))
    assert prep.missing_videos == [gone.stem]
    assert f"1 of 3 videos of demo have no file (video root {videos})" in capsys.readouterr().err


@pytest.mark.slow
def test_one_error_row_per_missing_video_and_kind(demo_dir: Path, tmp_path: Path) -> None:  # noqa: F811
    """Regression: a missing video got one error row per frame request (here 2 + 1 per video;
    on Charades-STA with --interval 1, 30 each, in 32-row shards). Also: the run report carries
    the dataset's policy counts and entries read (only ``priors stats`` had them)."""
    from pipeline.graph import run_priors

    demo = tmp_path / "demo"
    shutil.copytree(demo_dir, demo)
    videos = demo / "videos"
    gone = sorted(videos.glob("*.mp4"))[0]
    gone.unlink()
    train = (demo / "train.jsonl").read_text().splitlines()
    first = json.loads(train[0])
    first["relevant_windows"] = [[1.0, first["duration"] + 5.0]]  # past the end: clamped, counted
    atomic_write_text(demo / "train.jsonl", "\n".join([json.dumps(first), *train[1:]]) + "\n")
    config = _config(demo, tmp_path, video_root=videos)
    report = run_priors(config)

    ann = DATASETS.get("demo")(demo, videos)
    assert ann.policies.as_dict() == {"train": {"clamped_end_to_duration": 1}}
    durations = {v.video_id: v.duration for v in ann.videos.values()}
    assert report.videos_missing == 1 and report.errors == {"missing_video": 2}
    assert report.errors_by_kind == {"narrative": 1, "clip_caption": 1}
    store = CacheStore(tmp_path / "cache")
    for kind, every in (("narrative", 6.0), ("clip_caption", 10.0)):
        rows = store.priors(kind).to_pylist()
        errors = [r for r in rows if r["status"] != "ok"]
        assert [(r["video_id"], r["error_type"]) for r in errors] == [(gone.stem, "missing_video")]
        assert f"video '{gone.stem}' has no file (video root {videos})" in errors[0]["error"]
        assert len(time_grid(durations[gone.stem], every)) > 1  # the error rows the old code wrote for it
        ok = [r for r in rows if r["status"] == "ok"]
        assert len(ok) == sum(len(time_grid(d, every)) for v, d in durations.items() if v != gone.stem)
        assert len(list((tmp_path / "cache" / "priors" / kind).glob("*.parquet"))) == 1  # one shard for the run
    assert report.queries_read == ann.queries_read and report.queries_read
    assert report.policies == ann.policies.as_dict()
    saved = (tmp_path / "m.report.json").read_text()
    assert '"clamped_end_to_duration": 1' in saved and '"queries_read"' in saved
    assert "train/clamped_end_to_duration" in report.table()

    again = run_priors(config)  # nothing new: the missing video's rows are not written again
    assert (again.rows_written, again.model_calls, again.videos_missing) == (0, 0, 1)
