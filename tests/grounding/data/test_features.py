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
