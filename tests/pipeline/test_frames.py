"""Frame sampling on real MP4s (../shared/data/videos), on a variable-frame-rate MP4 written
here with PyAV, and on bad files built by the tests."""

from __future__ import annotations

import fractions
from pathlib import Path

import av
import numpy as np
import pytest

from pipeline.frames import FrameSampler, ResizePolicy
from tests.conftest import shared_path

REAL = {  # name: (width, height, fps, duration)
    "bikes": (640, 272, 25.0, 10.0),
    "carphone_pristine": (176, 144, 29.97, 4.004),
    "bigbuckbunny": (1280, 720, 25.0, 5.28),
}


def _pyav_frames(path: Path) -> tuple[list[float], list[av.VideoFrame]]:
    """Every frame of the video in presentation order, with its start time in seconds."""
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        frames = sorted(container.decode(stream), key=lambda f: f.pts)
        return [float(f.pts * stream.time_base) for f in frames], frames


@pytest.mark.parametrize("name", sorted(REAL))
def test_one_second_samples_on_real_videos(name: str) -> None:
    width, height, fps, duration = REAL[name]
    path = shared_path("videos", f"{name}.mp4")
    got = FrameSampler().sample(path)
    assert got.status == "ok", got.error
    assert got.video_id == name
    assert got.n_clipped == 0
    assert got.duration == pytest.approx(duration, abs=0.01)
    assert got.fps == pytest.approx(fps, abs=0.01)
    assert got.timestamps == [float(i) for i in range(int(np.ceil(duration)))]
    assert got.frames is not None and got.frames.shape == (len(got.timestamps), height, width, 3)
    assert got.frames.dtype == np.uint8
    frame = 1.0 / fps
    for t, start in zip(got.timestamps, got.frame_times):  # covering: on screen at t
        assert t - frame - 1e-6 <= start <= t + 1e-6


@pytest.mark.parametrize("name", sorted(REAL))
def test_nearest_pick_is_within_half_a_frame(name: str) -> None:
    path = shared_path("videos", f"{name}.mp4")
    got = FrameSampler(pick="nearest").sample(path)
    assert got.status == "ok", got.error
    half = 0.5 / REAL[name][2]
    times, starts = np.array(got.timestamps), np.array(got.frame_times)
    inside = times <= got.duration - 2 * half  # within the last frame there is no later start
    assert inside.sum() >= len(times) - 1
    assert np.all(np.abs(starts - times)[inside] <= half + 1e-6)


def test_pixels_match_pyav_frame_at_that_pts() -> None:
    path = shared_path("videos", "bikes.mp4")
    times = [0.0, 1.3, 2.5, 7.02, 9.9]
    got = FrameSampler().sample(path, times)
    assert got.status == "ok", got.error
    starts, frames = _pyav_frames(path)
    assert len(starts) == got.n_frames
    for row, (t, idx) in enumerate(zip(times, got.frame_indices)):
        assert starts[idx] <= t + 1e-6 < starts[idx + 1] if idx + 1 < len(starts) else True
        assert got.frame_times[row] == pytest.approx(starts[idx], abs=1e-4)
        ours = got.frames[row].astype(np.int16)
        same = np.abs(ours - frames[idx].to_ndarray(format="rgb24")).mean()
        neighbour = np.abs(
            ours - frames[idx + 1 if idx + 1 < len(frames) else idx - 1].to_ndarray(format="rgb24")
        ).mean()
        assert same < 2.0, f"t={t}: decord and PyAV differ by {same:.2f} on frame {idx}"
        assert neighbour > same, f"t={t}: the neighbouring frame matches as well ({neighbour:.2f})"


def test_past_the_end_is_clipped_and_counted() -> None:
    path = shared_path("videos", "carphone_pristine.mp4")
    got = FrameSampler().sample(path, [3.0, 4.5, 60.0])
    assert got.status == "ok", got.error
    assert got.n_clipped == 2
    assert got.frame_indices[1:] == [got.n_frames - 1, got.n_frames - 1]


@pytest.mark.parametrize(
    ("policy", "shape"),
    [
        (ResizePolicy(mode="fixed", width=64, height=48), (48, 64)),
        (ResizePolicy(mode="short_side", short_side=136), (136, 320)),
    ],
)
def test_resize_policy_decodes_at_that_size(policy: ResizePolicy, shape: tuple[int, int]) -> None:
    got = FrameSampler(resize=policy).sample(shared_path("videos", "bikes.mp4"), [0.0, 5.0])
    assert got.status == "ok", got.error
    assert got.frames is not None and got.frames.shape == (2, *shape, 3)


def test_resize_policy_is_validated_and_keyed() -> None:
    with pytest.raises(ValueError, match="short_side"):
        ResizePolicy(mode="short_side")
    with pytest.raises(ValueError, match="fixed"):
        ResizePolicy(mode="fixed", width=64)
    keys = {str(FrameSampler(resize=p).spec()) for p in (ResizePolicy(), ResizePolicy(mode="fixed", width=8, height=8))}
    assert len(keys) == 2
    assert FrameSampler(interval=0.5).spec() != FrameSampler().spec()


def test_timestamps_grid() -> None:
    assert FrameSampler().timestamps(3.0) == [0.0, 1.0, 2.0]
    assert FrameSampler().timestamps(3.2) == [0.0, 1.0, 2.0, 3.0]
    assert FrameSampler(interval=0.5).timestamps(1.2) == [0.0, 0.5, 1.0]
    assert FrameSampler().timestamps(0.0) == []


# --- variable frame rate ----------------------------------------------------------------------
VFR_PTS_MS = [0, 300, 500, 1400, 1500, 2600, 2700, 2800, 4000, 4100, 5500]


def _write_vfr(path: Path) -> None:
    """Frame i is a flat grey of level 20*i, shown from VFR_PTS_MS[i] (time base 1/1000)."""
    tb = fractions.Fraction(1, 1000)
    with av.open(str(path), "w") as container:
        stream = container.add_stream("libx264" if "libx264" in av.codecs_available else "mpeg4", rate=10)
        stream.width, stream.height, stream.pix_fmt = 64, 64, "yuv420p"
        stream.codec_context.time_base = tb
        for i, pts in enumerate(VFR_PTS_MS):
            frame = av.VideoFrame.from_ndarray(np.full((64, 64, 3), 20 * i, np.uint8), format="rgb24")
            frame.pts, frame.time_base = pts, tb
            container.mux(stream.encode(frame))
        container.mux(stream.encode())


def test_variable_frame_rate_picks_the_frame_on_screen(tmp_path: Path) -> None:
    path = tmp_path / "vfr.mp4"
    _write_vfr(path)
    times = [0.0, 0.4, 1.0, 1.45, 2.0, 2.65, 3.0, 3.99, 4.05, 5.0, 5.5]
    got = FrameSampler().sample(path, times)
    assert got.status == "ok", got.error
    expected = [max(i for i, pts in enumerate(VFR_PTS_MS) if pts / 1000 <= t + 1e-9) for t in times]
    assert got.frame_indices == expected
    assert got.frame_times == pytest.approx([VFR_PTS_MS[i] / 1000 for i in expected], abs=1e-3)
    levels = [round(float(frame.mean()) / 20) for frame in got.frames]
    assert levels == expected, "the decoded pixels are not those of the frame on screen"
    naive = [min(round(t * got.fps), got.n_frames - 1) for t in times]
    assert sum(a != b for a, b in zip(naive, expected)) >= 4, "this video would not tell pts from round(t*fps)"


# --- bad files become error rows ---------------------------------------------------------------
def _faststart_copy(src: Path, dst: Path) -> None:
    """Remux ``src`` with the moov box before the media data, as streaming MP4s are written."""
    with av.open(str(src)) as source, av.open(str(dst), "w", options={"movflags": "faststart"}) as target:
        stream = target.add_stream_from_template(source.streams.video[0])
        for packet in source.demux(source.streams.video[0]):
            if packet.dts is not None:  # the flush packet
                packet.stream = stream
                target.mux(packet)


def _bad_file(kind: str, tmp_path: Path) -> Path:
    path = tmp_path / f"{kind}.mp4"
    if kind == "truncated":
        data = shared_path("videos", "bikes.mp4").read_bytes()
        path.write_bytes(data[: len(data) // 2])
    elif kind == "text":
        path.write_text("this is a text file, not a video\n" * 20)
    elif kind in ("corrupt", "truncated_faststart"):  # moov first, then the coded frames
        _faststart_copy(shared_path("videos", "bikes.mp4"), path)
        data = bytearray(path.read_bytes())
        if kind == "corrupt":  # complete boxes, garbage where the coded frames should be
            payload = data.index(b"mdat") + 4 + 200
            data[payload:] = b"\xff" * (len(data) - payload)
        path.write_bytes(bytes(data if kind == "corrupt" else data[: len(data) // 2]))
    elif kind == "empty":
        path.touch()
    return path  # "missing": never written


@pytest.mark.parametrize(
    ("kind", "error_type"),
    [
        ("truncated", "truncated"),
        ("truncated_faststart", "truncated"),
        ("corrupt", "corrupt"),
        ("text", "not_a_video"),
        ("empty", "empty_file"),
        ("missing", "missing_file"),
    ],
)
def test_bad_files_become_error_rows(tmp_path: Path, kind: str, error_type: str) -> None:
    path = _bad_file(kind, tmp_path)
    got = FrameSampler().sample(path, [0.0, 1.0], video_id="v1")
    assert got.status == "error"
    assert got.error_type == error_type
    assert str(path) in got.error
    assert got.frames is None and got.frame_times == []
    assert got.timestamps == [0.0, 1.0] and got.video_id == "v1"
