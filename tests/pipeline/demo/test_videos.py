"""The generated demo dataset: deterministic, well-formed, decodable, showing what its queries
say, paraphrased, and readable through the registered ``demo`` adapter."""

from __future__ import annotations

import json
import random
import re
from collections import defaultdict
from pathlib import Path

import numpy as np
import pytest

from pipeline.datasets import DATASETS
from pipeline.demo.phrases import VERBS, Meaning, Referent, argument, fit_set, queries
from pipeline.demo.shapes import BACKGROUND, FPS, ROWS, SHAPE, SIZE
from pipeline.demo.videos import N_VIDEOS, generate_demo, make_script, split_scripts
from pipeline.demo.world import Script, WorldSpec
from pipeline.frames import FrameSampler

N_SMALL = 6  # 4 train, 1 val, 1 test


@pytest.fixture(scope="module")
def demo_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return generate_demo(tmp_path_factory.mktemp("demo"), seed=0, n_videos=N_SMALL)


def _rows(folder: Path) -> dict[str, list[dict]]:
    return {
        s: [json.loads(x) for x in (folder / f"{s}.jsonl").read_text().splitlines()] for s in ("train", "val", "test")
    }


def _scripts(n: int, seed: int = 0) -> list[Script]:
    """The scripts ``generate_demo(seed=seed, n_videos=n)`` draws (the test replays them)."""
    rng = random.Random(seed)
    return [make_script(f"demo_{i:03d}", rng, WorldSpec()) for i in range(n)]


def test_same_seed_gives_identical_files_and_frames(demo_dir: Path, tmp_path: Path) -> None:
    again = generate_demo(tmp_path / "again", seed=0, n_videos=N_SMALL)
    for split in ("train", "val", "test"):
        assert (again / f"{split}.jsonl").read_bytes() == (demo_dir / f"{split}.jsonl").read_bytes()
    sampler = FrameSampler(interval=0.5)
    for video in sorted((demo_dir / "videos").glob("*.mp4")):
        first, second = sampler.sample(video), sampler.sample(again / "videos" / video.name)
        assert first.ok and second.ok, (first.error, second.error)
        np.testing.assert_array_equal(first.frames, second.frames)


def test_train_videos_adds_or_keeps_training_videos_and_leaves_the_rest_as_it_was(
    demo_dir: Path, tmp_path: Path
) -> None:
    base = _rows(demo_dir)
    bigger = _rows(generate_demo(tmp_path / "bigger", seed=0, n_videos=N_SMALL, train_videos=6))
    assert bigger["val"] == base["val"] and bigger["test"] == base["test"]
    assert bigger["train"][: len(base["train"])] == base["train"]
    extra = bigger["train"][len(base["train"]) :]
    scripts = _scripts(N_SMALL + 2)  # the two extra videos: drawn after the default ones
    assert sorted({r["vid"] for r in extra}) == [s.video_id for s in scripts[N_SMALL:]] == ["demo_006", "demo_007"]
    n_base = sum(len(rows) for rows in base.values())
    assert [r["qid"] for r in extra] == list(range(n_base, n_base + len(extra)))  # numbered after all of them
    assert all((tmp_path / "bigger" / "videos" / f"{v}.mp4").exists() for v in ("demo_006", "demo_007"))

    fewer = _rows(generate_demo(tmp_path / "fewer", seed=0, n_videos=N_SMALL, train_videos=2))
    assert fewer["val"] == base["val"] and fewer["test"] == base["test"]  # the same query ids
    assert {r["vid"] for r in fewer["train"]} == {"demo_000", "demo_001"}
    assert fewer["train"] == [r for r in base["train"] if r["vid"] in ("demo_000", "demo_001")]
    assert sorted(p.stem for p in (tmp_path / "fewer" / "videos").glob("*.mp4")) == [
        "demo_000",
        "demo_001",
        *sorted({r["vid"] for r in base["val"] + base["test"]}),
    ]
    with pytest.raises(ValueError, match="train_videos must be >= 1"):
        generate_demo(tmp_path / "none", train_videos=0)


def test_train_wordings_add_other_wordings_of_the_training_queries_only(demo_dir: Path, tmp_path: Path) -> None:
    """Each extra wording is another sentence for a training query's windows, appended with ids
    after every other query; the one-wording lines, val and test stay byte-identical."""
    base = _rows(demo_dir)
    more_dir = generate_demo(tmp_path / "more", seed=0, n_videos=N_SMALL, train_wordings=3)
    more = _rows(more_dir)
    assert more["val"] == base["val"] and more["test"] == base["test"]
    assert more["train"][: len(base["train"])] == base["train"]
    extra = more["train"][len(base["train"]) :]
    assert len(base["train"]) < len(more["train"]) <= 3 * len(base["train"])
    n_base = sum(len(rows) for rows in base.values())
    assert [r["qid"] for r in extra] == list(range(n_base, n_base + len(extra)))
    windows = defaultdict(set)
    for r in base["train"]:
        windows[r["vid"]].add(json.dumps(r["relevant_windows"]))
    for r in extra:
        assert json.dumps(r["relevant_windows"]) in windows[r["vid"]], r  # a training query, said again
    sentences = [(r["vid"], r["query"]) for r in more["train"]]
    assert len(set(sentences)) == len(sentences), "a wording the video already has is dropped"
    again = generate_demo(tmp_path / "again", seed=0, n_videos=N_SMALL, train_wordings=3)
    assert (again / "train.jsonl").read_bytes() == (more_dir / "train.jsonl").read_bytes()
    with pytest.raises(ValueError, match="train_wordings must be >= 1"):
        generate_demo(tmp_path / "none", n_videos=N_SMALL, train_wordings=0)


def test_another_seed_gives_another_dataset(demo_dir: Path, tmp_path: Path) -> None:
    other = generate_demo(tmp_path / "other", seed=1, n_videos=3)

    def events(folder: Path) -> set[str]:
        return {json.dumps([r["vid"], r["query"], r["relevant_windows"]]) for rs in _rows(folder).values() for r in rs}

    assert not events(other) <= events(demo_dir)


def test_splits_rows_and_windows_are_well_formed(demo_dir: Path) -> None:
    rows = _rows(demo_dir)
    videos = {s: {r["vid"] for r in rs} for s, rs in rows.items()}
    assert [len(videos[s]) for s in ("train", "val", "test")] == [4, 1, 1]
    assert not (videos["train"] & videos["val"]) and not (videos["train"] & videos["test"])
    all_rows = [r for rs in rows.values() for r in rs]
    assert len({r["qid"] for r in all_rows}) == len(all_rows)
    centres = []
    for r in all_rows:
        assert set(r) == {"qid", "query", "vid", "duration", "relevant_windows"}
        assert 18 <= r["duration"] <= 28 and r["query"]
        for start, end in r["relevant_windows"]:
            assert 0 <= start and end <= r["duration"] - 0.5, r
            assert end - start >= 3.0 - 1e-9, r
            centres.append((start + end) / 2)
    per_video = {v: sum(r["vid"] == v for r in all_rows) for v in videos["train"]}
    assert min(per_video.values()) >= 2, "each video needs several queries at different times"
    assert np.std(centres) > 3.0, "windows should sit at many different times"


def test_videos_decode_with_decord_at_the_stated_duration(demo_dir: Path) -> None:
    rows = [r for rs in _rows(demo_dir).values() for r in rs]
    durations = {r["vid"]: r["duration"] for r in rows}
    for vid, duration in durations.items():
        got = FrameSampler().sample(demo_dir / "videos" / f"{vid}.mp4")
        assert got.ok, got.error
        assert got.n_frames == int(duration * FPS)
        assert got.duration == pytest.approx(duration, abs=1e-3)
        assert got.fps == pytest.approx(FPS)
        assert got.frames.shape == (int(duration), SIZE, SIZE, 3)


def _row_band(frame: np.ndarray, script: Script, shape: int) -> tuple[np.ndarray, np.ndarray]:
    """(foreground mask, frame) of the horizontal band shape ``shape`` lives in."""
    y = ROWS[len(script.initial)][shape]
    band = frame[max(0, int(y - SHAPE / 2) - 2) : int(y + SHAPE / 2) + 2]
    return np.abs(band.astype(np.float32) - BACKGROUND).sum(-1) > 60, band


def test_decoded_frames_show_each_scripted_event(demo_dir: Path) -> None:
    """Replay the scripts the generator drew and check every event in the decoded MP4, in the
    shape's own row: one that appears gains pixels, one that moves right shifts right, one that
    turns changes colour, one that grows gets wider."""
    checked = set()
    for script in _scripts(N_SMALL):
        for e in script.events:
            got = FrameSampler().sample(demo_dir / "videos" / f"{script.video_id}.mp4", [e.start, e.end])
            (before, b_img), (after, a_img) = (_row_band(f, script, e.shape) for f in got.frames)
            x_before, x_after = (np.nonzero(m)[1].mean() if m.any() else 0.0 for m in (before, after))
            width = [np.ptp(np.nonzero(m)[1]) if m.any() else 0 for m in (before, after)]
            colour = [img[m].mean(0) if m.any() else np.zeros(3) for img, m in ((b_img, before), (a_img, after))]
            check = {
                "appear": after.sum() > before.sum() + 200,
                "disappear": before.sum() > after.sum() + 200,
                "move_right": x_after > x_before + 5,
                "move_left": x_after < x_before - 5,
                "turn": np.abs(colour[1] - colour[0]).max() > 40,
                "grow": width[1] > width[0] + 8,
                "shrink": width[0] > width[1] + 8,
            }[e.action]
            assert check, f"{script.video_id} {e.action} at [{e.start}, {e.end}]: not visible in the decoded frames"
            checked.add(e.action)
    assert len(checked) >= 6, f"only these actions occur in the small demo: {checked}"


def test_each_query_names_exactly_its_windows_in_words_drawn_from_the_seed() -> None:
    """For every query of 40 videos: the windows are every event its full meaning fits (no
    event of the video is left out or claimed by two queries), and across queries of one
    action the wordings differ."""
    wordings: dict[str, set[str]] = defaultdict(set)
    n = 0
    for script in _scripts(40):
        claimed: list[tuple[float, float]] = []
        made = queries(script, random.Random(f"demo-phrases:0:{script.video_id}"))
        for sentence, windows in made:
            e = next(x for x in script.events if [x.start, x.end] == windows[0])
            full = Meaning(Referent(e.subject.colour, e.subject.kind), e.action, argument(e))
            assert [[x.start, x.end] for x in fit_set(script, full)] == windows, sentence
            claimed += [tuple(w) for w in windows]
            wordings[e.action].add(sentence)
            n += 1
        assert sorted(claimed) == sorted((x.start, x.end) for x in script.events)
    assert n >= 150
    for action, sentences in wordings.items():
        verbs = {v.split(" {")[0] for v in VERBS[action] if any(v.split(" {")[0] in s for s in sentences)}
        assert len(verbs) >= 3, f"{action}: only {verbs} used"
        nouns = {
            re.split(
                r" (moves|slides|goes|shifts|travels|appears|shows|comes|grows|pops|disappears|vanishes|"
                r"shrinks|turns|changes|becomes|gets|expands)\b",
                s,
            )[0]
            for s in sentences
        }
        assert len(nouns) >= min(5, len(sentences) // 2), f"{action}: referring expressions {nouns}"


def test_split_sizes_of_the_full_demo() -> None:
    """The default demo's split sizes, from the scripts alone (no videos): >= 100 test and >= 50
    val queries, train about 4x test."""
    scripts = _scripts(N_VIDEOS)
    counts = {
        split: sum(len(queries(s, random.Random(f"demo-phrases:0:{s.video_id}"))) for s in chosen)
        for split, chosen in split_scripts(scripts).items()
    }
    assert counts["test"] >= 100 and counts["val"] >= 50, counts
    assert 3.0 <= counts["train"] / counts["test"] <= 5.0, counts


def test_adapter_reads_the_demo_through_folder(demo_dir: Path) -> None:
    ann = DATASETS.get("demo")(demo_dir)
    rows = [r for rs in _rows(demo_dir).values() for r in rs]
    assert ann.name == "demo"
    assert len(ann.queries) == len(rows)
    assert ann.splits() == ["test", "train", "val"]
    assert all(v.path is not None and v.path.exists() for v in ann.videos.values())
    first = rows[0]
    q = next(q for q in ann.queries if q.query_id == str(first["qid"]))
    assert q.text == first["query"] and q.video_id == first["vid"]
    assert [list(w) for w in q.windows] == first["relevant_windows"]


@pytest.mark.slow
def test_adapter_generates_the_full_demo_when_missing(tmp_path: Path) -> None:
    ann = DATASETS.get("demo")(tmp_path / "demo")
    assert (tmp_path / "demo" / "train.jsonl").exists()
    split_videos = {s: {q.video_id for q in ann.queries if q.split == s} for s in ann.splits()}
    assert {s: len(v) for s, v in split_videos.items()} == {"train": 80, "val": 10, "test": 20}
    per_split = {s: sum(q.split == s for q in ann.queries) for s in ann.splits()}
    assert per_split["test"] >= 100 and per_split["val"] >= 50, per_split


def test_adapter_passes_train_videos_when_it_generates(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """``priors run demo --dataset-options train_videos=N`` generates that size (3 videos + N - 1 here)."""
    import pipeline.datasets.demo as adapter

    monkeypatch.setattr(adapter, "generate_demo", lambda folder, **kw: generate_demo(folder, n_videos=3, **kw))
    ann = DATASETS.get("demo")(tmp_path / "demo", train_videos=2)
    assert sorted({q.video_id for q in ann.queries if q.split == "train"}) == ["demo_000", "demo_003"]
