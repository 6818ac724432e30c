from __future__ import annotations

import json
from pathlib import Path

from pipeline.frames import FrameSampler
from pipeline.stages.decode import DecodeStage
from tests.pipeline.priors_fixtures import demo_dir  # noqa: F401 - fixture


class CountingSampler:
    """The real FrameSampler, counting how often each video is opened."""

    def __init__(self) -> None:
        self.sampler = FrameSampler()
        self.opened: list[str] = []

    def sample(self, path, timestamps=None, video_id=""):
        self.opened.append(str(path))
        return self.sampler.sample(path, timestamps=timestamps, video_id=video_id)


def _req(key: str, times: list[float]) -> dict:
    return {
        "kind": "narrative",
        "key": key,
        "query_id": "",
        "t_start": times[0],
        "t_end": times[-1],
        "frame_times": times,
        "prompt_vars": {"t": times[0]},
    }


def _batch(paths: list[str], requests: list[list[dict]]) -> dict:
    return {
        "video_id": [Path(p).stem or "gone" for p in paths],
        "path": paths,
        "video_sha256": ["h"] * len(paths),
        "requests": [json.dumps(r) for r in requests],
    }


def test_one_open_per_video_and_one_row_per_request(demo_dir: Path) -> None:  # noqa: F811
    video = str(sorted((demo_dir / "videos").glob("*.mp4"))[0])
    sampler = CountingSampler()
    reqs = [_req("a", [0.0]), _req("b", [2.0]), _req("c", [1.0, 2.0, 3.0])]
    out = DecodeStage(sampler).process_batch(_batch([video], [reqs]))
    assert sampler.opened == [video]
    assert out["key"] == ["a", "b", "c"]
    assert [im.shape[0] for im in out["images"]] == [1, 1, 3]
    assert out["images"][0].dtype.name == "uint8" and out["images"][0].shape[-1] == 3
    assert (out["images"][1][0] == out["images"][2][1]).all()  # t=2.0 is the same frame in both
    assert out["status"] == ["ok"] * 3
    assert out["n_decoded"] == [4, 0, 0]  # 0, 1, 2, 3 s decoded once for the video
    assert json.loads(out["frame_times"][2]) == [1.0, 2.0, 3.0]


def test_missing_and_corrupt_videos_become_error_rows(tmp_path: Path) -> None:
    corrupt = tmp_path / "broken.mp4"
    corrupt.write_bytes(b"\x00\x00\x00\x18ftypmp42 not really a video")
    out = DecodeStage(FrameSampler()).process_batch(
        _batch(["", str(corrupt)], [[_req("m", [0.0])], [_req("c1", [0.0]), _req("c2", [1.0])]])
    )
    assert out["key"] == ["m", "c1", "c2"]
    assert out["status"] == ["error"] * 3
    assert out["error_type"][0] == "missing_video"
    assert "broken" in out["error"][1] and out["error_type"][1]
    assert all(im.shape[0] == 0 for im in out["images"])


def test_videos_with_nothing_to_do_are_skipped() -> None:
    sampler = CountingSampler()
    out = DecodeStage(sampler).process_batch(_batch(["/x/a.mp4"], [[]]))
    assert out["key"] == [] and sampler.opened == []


def test_text_only_requests_open_no_video() -> None:
    sampler = CountingSampler()
    req = {**_req("r", [0.0]), "frame_times": []}
    out = DecodeStage(sampler).process_batch(_batch([""], [[req]]))
    assert sampler.opened == [] and out["status"] == ["ok"] and out["images"][0].shape[0] == 0
