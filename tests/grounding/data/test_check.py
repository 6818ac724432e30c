"""``grounding.data.check``: every video a run uses is loaded before the first step; all bad ones
are reported at once; the result is cached in the run folder."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest

from grounding.config import load_config
from grounding.data.check import FEATURE_CHECK, check_videos, videos_by_split
from grounding.data.features import FeatureError, open_store
from tests.grounding.fixtures import build_tiny_corpus


def _arr(n: int, d: int) -> np.ndarray:
    return np.random.default_rng(0).normal(size=(n, d)).astype(np.float32)


def _folder(root: Path, good: int = 2) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    for i in range(good):
        np.savez(root / f"ok{i}.npz", features=_arr(5, 8))
    nan = _arr(5, 8)
    nan[3, 2] = np.nan
    np.savez(root / "nan.npz", features=nan)
    np.savez(root / "wide.npz", features=_arr(5, 12))
    return root


def test_every_bad_video_is_named_in_one_error(tmp_path: Path) -> None:
    """Regression: features were checked only when first used, one video at a time."""
    store = open_store(_folder(tmp_path / "f"), dim=8)
    videos = {"ok0": ["train"], "ok1": ["val"], "nan": ["val"], "wide": ["train", "val"], "gone": ["val"]}
    with pytest.raises(FeatureError) as info:
        check_videos(store, videos, progress=False)
    msg = str(info.value)
    assert msg.startswith("features of 3 of 5 videos this run uses cannot be used")
    assert "video 'gone': no features at" in msg and "gone.npz [val]" in msg
    assert "video 'nan' in" in msg and "1 of 5 rows hold NaN or inf [val]" in msg
    assert "video 'wide' in" in msg and "expected feature dimension 8, got 12" in msg and "[train, val]" in msg
    assert "ok0" not in msg and "ok1" not in msg


def test_the_list_is_cut_and_the_rest_counted(tmp_path: Path) -> None:
    store = open_store(_folder(tmp_path / "f"), dim=8)
    with pytest.raises(FeatureError, match=r"features of 25 of 25 videos(.|\n)*missing04(.|\n)*\.\.\. and 20 more$"):
        check_videos(store, [f"missing{i:02d}" for i in range(25)], progress=False, show=5)


def test_cache_skips_unchanged_videos_and_never_keeps_bad_ones(tmp_path: Path) -> None:
    root = _folder(tmp_path / "f", good=3)
    cache = tmp_path / "run" / FEATURE_CHECK
    good = ["ok0", "ok1", "ok2"]
    assert check_videos(open_store(root, dim=8), good, cache, progress=False).loaded == 3
    assert set(json.loads(cache.read_text())["videos"]) == set(good)
    assert check_videos(open_store(root, dim=8), good, cache, progress=False).loaded == 0  # a resumed run: free
    stat = (root / "ok1.npz").stat()
    os.utime(root / "ok1.npz", ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000))  # the file changed
    assert check_videos(open_store(root, dim=8), good, cache, progress=False).loaded == 1
    with pytest.raises(FeatureError):  # another width: the cache does not apply, every video is loaded again
        check_videos(open_store(root, dim=16), good, cache, progress=False)
    with pytest.raises(FeatureError, match="video 'nan'"):
        check_videos(open_store(root, dim=8), [*good, "nan"], cache, progress=False)
    assert set(json.loads(cache.read_text())["videos"]) == set(good)  # the bad one is not remembered
    with pytest.raises(FeatureError, match="video 'nan'"):  # ... so it is loaded (and refused) again
        check_videos(open_store(root, dim=8), [*good, "nan"], cache, progress=False)


def test_videos_by_split() -> None:
    rows = [{"video_id": "a", "split": "train"}, {"video_id": "a", "split": "val"}, {"video_id": "b", "split": "test"},
            {"video_id": "a", "split": "val"}]
    assert videos_by_split(rows, ("train", "val")) == {"a": ["train", "val"]}
    assert videos_by_split(rows, (None,)) == {"a": ["train", "val"], "b": ["test"]}


def _cfg(corpus, out: Path):  # noqa: ANN001, ANN202
    return load_config(None, {
        "data": {"manifest": str(corpus.manifest), "features": [str(corpus.features)], "max_len": 16},
        "model": {"name": "span", "hidden": 16, "heads": 2}, "optim": {"batch_size": 4, "epochs": 1, "lr": 1e-3},
        "out_dir": str(out), "device": "cpu", "seed": 3,
    })


def test_fit_names_every_bad_validation_video_before_the_first_step(tmp_path: Path,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    """Regression: a missing, NaN or wrong-width file of a validation-only video was found after
    a whole training epoch (and only the first one)."""
    import grounding.train

    corpus = build_tiny_corpus(tmp_path / "data", n_videos=9, queries_per_video=1)  # val: vid01, vid04, vid07
    nan = _arr(9, corpus.video_dim)
    nan[0, 0] = np.nan
    np.savez(corpus.features / "vid01.npz", features=nan)
    np.savez(corpus.features / "vid04.npz", features=_arr(9, corpus.video_dim + 4))
    (corpus.features / "vid07.npz").unlink()
    (corpus.features / "vid02.npz").unlink()  # a test video: fit does not read it, so it is not reported

    def no_training(*args: object, **kwargs: object) -> None:
        raise AssertionError("a training step ran before the features were checked")

    monkeypatch.setattr(grounding.train, "train_epoch", no_training)
    with pytest.raises(FeatureError) as info:
        grounding.train.fit(_cfg(corpus, tmp_path / "run"), progress=False)
    msg = str(info.value)
    assert "features of 3 of 6 videos this run uses" in msg
    assert "video 'vid01'" in msg and "NaN" in msg
    assert "video 'vid04'" in msg
    assert f"expected feature dimension {corpus.video_dim}, got {corpus.video_dim + 4}" in msg
    assert "video 'vid07': no features at" in msg
    assert "vid02" not in msg


def test_fit_caches_the_check_in_the_run_folder(tmp_path: Path) -> None:
    from grounding.train import fit

    corpus = build_tiny_corpus(tmp_path / "data", n_videos=6, queries_per_video=1)
    fit(_cfg(corpus, tmp_path / "run"), progress=False)
    cached = json.loads((tmp_path / "run" / FEATURE_CHECK).read_text())
    assert sorted(cached["videos"]) == ["vid00", "vid01", "vid03", "vid04"]  # train + val, not test
    assert cached["dim"] == corpus.video_dim
