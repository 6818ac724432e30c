from __future__ import annotations

from pathlib import Path

import h5py
import numpy as np
import pytest

from grounding.data.features import (
    FEATURE_STORES,
    ConcatStore,
    FeatureError,
    open_store,
    open_stores,
    pad_to_length,
    pool_to_length,
    resample_nearest,
)
from groundwork.errors import InputError


def _arr(n: int, d: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).normal(size=(n, d)).astype(np.float32)


def test_registry_names_every_layout() -> None:
    assert FEATURE_STORES.names() == ["hdf5", "npy", "npz"]
    with pytest.raises(ValueError, match="did you mean 'npz'"):
        FEATURE_STORES.get("npzz")


def test_npz_npy_hdf5_layouts_load_the_same_array(tmp_path: Path) -> None:
    a = _arr(7, 5)
    (tmp_path / "npz").mkdir()
    (tmp_path / "npy").mkdir()
    np.savez(tmp_path / "npz" / "v1.npz", features=a)
    np.save(tmp_path / "npy" / "v1.npy", a)
    with h5py.File(tmp_path / "feats.hdf5", "w") as f:
        f["v1"] = a
    for spec in (tmp_path / "npz", tmp_path / "npy", tmp_path / "feats.hdf5", f"npz:{tmp_path / 'npz'}"):
        store = open_store(spec)
        assert "v1" in store and "v2" not in store
        np.testing.assert_array_equal(store.load("v1"), a)


def test_missing_video_names_video_and_file(tmp_path: Path) -> None:
    np.savez(tmp_path / "v1.npz", features=_arr(3, 4))
    with pytest.raises(FeatureError, match=r"video 'nope'.*nope\.npz"):
        open_store(tmp_path).load("nope")
    with h5py.File(tmp_path / "f.h5", "w") as f:
        f["v1"] = _arr(3, 4)
    with pytest.raises(FeatureError, match=r"video 'nope'.*f\.h5"):
        open_store(tmp_path / "f.h5").load("nope")


def test_wrong_dimension_rank_and_nan_are_errors(tmp_path: Path) -> None:
    bad = _arr(4, 4)
    bad[2, 1] = np.nan
    np.savez(tmp_path / "nan.npz", features=bad)
    np.savez(tmp_path / "flat.npz", features=np.zeros(8, np.float32))
    np.savez(tmp_path / "ok.npz", features=_arr(4, 4))
    np.savez(tmp_path / "nokey.npz", other=_arr(4, 4))
    store = open_store(tmp_path, dim=6)
    with pytest.raises(FeatureError, match=r"video 'ok'.*ok\.npz.*dimension 6, got 4"):
        store.load("ok")
    store = open_store(tmp_path)
    with pytest.raises(FeatureError, match=r"video 'nan'.*nan\.npz.*1 of 4 rows hold NaN"):
        store.load("nan")
    with pytest.raises(FeatureError, match=r"video 'flat'.*shape \(L, D\)"):
        store.load("flat")
    with pytest.raises(FeatureError, match=r"nokey\.npz: no key 'features'"):
        store.load("nokey")


def test_bad_paths_are_named(tmp_path: Path) -> None:
    with pytest.raises(FeatureError, match="does not exist"):
        open_store(tmp_path / "absent")
    (tmp_path / "empty").mkdir()
    with pytest.raises(FeatureError, match="neither .npz nor .npy"):
        open_store(tmp_path / "empty")
    with pytest.raises(FeatureError, match="no video features given"):
        open_stores([])


def test_concat_resamples_shorter_to_longer(tmp_path: Path) -> None:
    (tmp_path / "slowfast").mkdir()
    (tmp_path / "clip").mkdir()
    a, b = _arr(6, 3, 1), _arr(4, 2, 2)
    np.savez(tmp_path / "slowfast" / "v.npz", features=a)
    np.save(tmp_path / "clip" / "v.npy", b)
    store = open_stores([tmp_path / "slowfast", tmp_path / "clip"])
    assert isinstance(store, ConcatStore)
    out = store.load("v")
    assert out.shape == (6, 5)
    np.testing.assert_array_equal(out[:, :3], a)
    # nearest index: floor(i * 4 / 6) for i = 0..5 -> 0 0 1 2 2 3
    np.testing.assert_array_equal(out[:, 3:], b[[0, 0, 1, 2, 2, 3]])
    np.testing.assert_array_equal(resample_nearest(b, 4), b)


def test_pool_to_length_max_pools_long_and_keeps_short() -> None:
    x = np.arange(10, dtype=np.float32)[:, None] * np.array([[1.0, -1.0]], np.float32)
    pooled = pool_to_length(x, 4)
    # bins floor(i*10/4): [0,2) [2,5) [5,7) [7,10)
    np.testing.assert_array_equal(pooled[:, 0], [1, 4, 6, 9])
    np.testing.assert_array_equal(pooled[:, 1], [0, -2, -5, -7])
    assert pool_to_length(x, 10) is x and pool_to_length(x, 128) is x


def test_pad_to_length_gives_mask() -> None:
    padded, mask = pad_to_length(np.ones((3, 2), np.float32), 5)
    assert padded.shape == (5, 2) and padded[3:].sum() == 0
    assert mask.tolist() == [True, True, True, False, False]
    with pytest.raises(ValueError, match="pool first"):
        pad_to_length(np.ones((6, 2)), 5)


def test_first_loaded_width_is_enforced_naming_video_file_and_both_widths(tmp_path: Path) -> None:
    """Regression: a store opened without ``dim`` accepted any width, so a 320-wide file among
    100-wide ones failed later in the collate as "cannot reshape array of size ... into shape"."""
    np.savez(tmp_path / "a.npz", features=_arr(4, 100))
    np.savez(tmp_path / "b.npz", features=_arr(16, 320))
    store = open_store(tmp_path)
    assert store.load("a").shape == (4, 100) and store.dim == 100
    with pytest.raises(FeatureError, match=r"video 'b' in .*b\.npz: expected feature dimension 100, got 320 "
                                           r"\(the width of video 'a', the first one this store loaded"):
        store.load("b")
    with h5py.File(tmp_path / "f.h5", "w") as f:
        f["a"], f["b"] = _arr(4, 100), _arr(16, 320)
    h5 = open_store(tmp_path / "f.h5")
    h5.load("a")
    with pytest.raises(FeatureError, match=r"video 'b' in .*f\.h5:b: expected feature dimension 100, got 320"):
        h5.load("b")


def test_concat_parts_pin_their_own_width_and_expect_width_checks_the_total(tmp_path: Path) -> None:
    """Regression: a ConcatStore of unpinned parts accepted a part of another width for any video."""
    for name, width_b in (("slowfast", 3), ("clip", 5)):
        (tmp_path / name).mkdir()
        np.savez(tmp_path / name / "a.npz", features=_arr(4, 2))
        np.savez(tmp_path / name / "b.npz", features=_arr(4, width_b))
    store = open_stores([tmp_path / "slowfast", tmp_path / "clip"])
    assert store.dim is None and store.load("a").shape == (4, 4) and store.dim == 4
    with pytest.raises(FeatureError, match=r"video 'b' in .*slowfast.b\.npz: expected feature dimension 2, got 3"):
        store.load("b")
    fresh = open_stores([tmp_path / "slowfast", tmp_path / "clip"])
    fresh.expect_width(5, "the checkpoint's video_dim")
    with pytest.raises(FeatureError, match=r"video 'a': expected feature dimension 5 \(the checkpoint's video_dim\), "
                                           r"got 4 = 2 \(.*slowfast.a\.npz\) \+ 2 \(.*clip.a\.npz\)"):
        fresh.load("a")
    assert [p.name for p in fresh.files("a")] == ["a.npz", "a.npz"]


def test_unreadable_files_and_non_numeric_arrays_are_feature_errors(tmp_path: Path) -> None:
    """Regression: a truncated .npz raised zipfile.BadZipFile / EOFError, naming no video."""
    np.savez(tmp_path / "ok.npz", features=_arr(3, 4))
    (tmp_path / "cut.npz").write_bytes((tmp_path / "ok.npz").read_bytes()[:40])
    np.savez(tmp_path / "text.npz", features=np.array([["a", "b"]]))
    store = open_store(tmp_path)
    with pytest.raises(FeatureError, match=r"video 'cut': cannot read features from .*cut\.npz"):
        store.load("cut")
    with pytest.raises(FeatureError, match=r"video 'text' in .*text\.npz: expected numeric features"):
        store.load("text")
    assert isinstance(FeatureError("x"), InputError)


def test_dataset_item_of_a_wrong_width_video_fails_at_load(tmp_path: Path) -> None:
    """Regression: the dataset built an item from a 20-wide file among 16-wide ones and the
    collate failed with "cannot reshape array of size ... into shape", naming no video or file."""
    from grounding.data.dataset import GroundingDataset, probe_dims, read_manifest
    from tests.grounding.fixtures import build_tiny_corpus

    corpus = build_tiny_corpus(tmp_path, video_dim=16)
    np.savez(corpus.features / "vid03.npz", features=_arr(9, 20))  # a train video (vid00 and vid03 are train)
    info = read_manifest(corpus.manifest)
    store = open_store(corpus.features)
    assert probe_dims(info, store, "train")[0] == 16
    ds = GroundingDataset(info, "train", store, max_len=12)
    bad = [i for i, r in enumerate(ds.rows) if r["video_id"] == "vid03"]
    assert ds[0]["video"].shape[1] == 16
    with pytest.raises(FeatureError, match=r"video 'vid03' in .*features.vid03\.npz: expected feature dimension 16, "
                                           r"got 20 \(the width of video 'vid00'"):
        ds[bad[0]]
