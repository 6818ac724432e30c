"""Video feature stores: the layouts the field ships pre-extracted features in.

- ``npz``: a folder of ``{vid}.npz`` with key ``features`` (jayleicn/moment_detr, line/lighthouse,
  and what ``pipeline.features.visual.write_video_features`` writes);
- ``hdf5``: one HDF5 file with one ``(L, D)`` dataset per video id (lntzm/MESM);
- ``npy``: a folder of ``{vid}.npy``.

``ConcatStore`` joins several sets on the feature axis (SlowFast + CLIP). Their lengths often
differ by a snippet or two (different strides); the shorter sequences are resampled to the
longest one by nearest-index lookup (row ``i`` of an ``n``-row set is taken at
``floor(i * n / n_max)``), which keeps every value a real feature row of that set.

``pool_to_length`` max-pools a long video to at most ``max_len`` snippets (TEA: 128) and
``pad_to_length`` zero-pads a short one, returning the validity mask. Every load checks its
array: a missing video, a wrong rank or dimension, and NaN/inf values raise ``FeatureError``
naming the video and the file.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Protocol

import numpy as np

from groundwork.registry import Registry


class FeatureError(ValueError):
    """A video's features are missing or malformed; the message names the video and the file."""


class FeatureStore(Protocol):
    name: str
    dim: int | None  # expected feature dimension; None = take whatever the first video has

    def load(self, video_id: str) -> np.ndarray: ...

    def __contains__(self, video_id: object) -> bool: ...


FEATURE_STORES: Registry[type] = Registry("feature store")


def check_features(array: np.ndarray, video_id: str, source: str, dim: int | None) -> np.ndarray:
    """Return ``array`` as float32 ``(L, D)``, or raise ``FeatureError`` naming video and file."""
    array = np.asarray(array)
    if array.ndim != 2 or array.shape[0] == 0:
        msg = f"video '{video_id}' in {source}: expected features of shape (L, D) with L >= 1, got {array.shape}"
        raise FeatureError(msg)
    if dim is not None and array.shape[1] != dim:
        msg = f"video '{video_id}' in {source}: expected feature dimension {dim}, got {array.shape[1]}"
        raise FeatureError(msg)
    array = array.astype(np.float32, copy=False)
    if not np.isfinite(array).all():
        bad = int((~np.isfinite(array)).any(axis=1).sum())
        msg = f"video '{video_id}' in {source}: {bad} of {array.shape[0]} rows hold NaN or inf"
        raise FeatureError(msg)
    return array


class _FolderStore:
    suffix = ""

    def __init__(self, root: str | Path, dim: int | None = None) -> None:
        self.root = Path(root)
        self.dim = dim
        self.name = f"{self.suffix.lstrip('.')}:{self.root}"
        if not self.root.is_dir():
            msg = f"feature folder {self.root} does not exist"
            raise FeatureError(msg)

    def path(self, video_id: str) -> Path:
        return self.root / f"{video_id}{self.suffix}"

    def __contains__(self, video_id: object) -> bool:
        return isinstance(video_id, str) and self.path(video_id).is_file()

    def load(self, video_id: str) -> np.ndarray:
        path = self.path(video_id)
        if not path.is_file():
            msg = f"video '{video_id}': no features at {path}"
            raise FeatureError(msg)
        return check_features(self._read(path), video_id, str(path), self.dim)

    def _read(self, path: Path) -> np.ndarray:
        raise NotImplementedError


@FEATURE_STORES.register("npz")
class NpzStore(_FolderStore):
    """A folder of ``{vid}.npz``, array under key ``features``."""

    suffix = ".npz"

    def _read(self, path: Path) -> np.ndarray:
        with np.load(path) as data:
            if "features" not in data.files:
                msg = f"{path}: no key 'features' (keys: {', '.join(data.files)})"
                raise FeatureError(msg)
            return data["features"]


@FEATURE_STORES.register("npy")
class NpyStore(_FolderStore):
    """A folder of ``{vid}.npy``."""

    suffix = ".npy"

    def _read(self, path: Path) -> np.ndarray:
        return np.load(path)


@FEATURE_STORES.register("hdf5")
class Hdf5Store:
    """One HDF5 file, one dataset per video id. The file is opened on first use (and again in
    each DataLoader worker, since h5py handles do not survive a fork)."""

    def __init__(self, path: str | Path, dim: int | None = None) -> None:
        self.path = Path(path)
        self.dim = dim
        self.name = f"hdf5:{self.path}"
        self._file = None
        if not self.path.is_file():
            msg = f"feature file {self.path} does not exist"
            raise FeatureError(msg)

    def _h5(self):  # noqa: ANN202 - h5py.File
        if self._file is None:
            import h5py

            self._file = h5py.File(self.path, "r")
        return self._file

    def __contains__(self, video_id: object) -> bool:
        return isinstance(video_id, str) and video_id in self._h5()

    def load(self, video_id: str) -> np.ndarray:
        h5 = self._h5()
        if video_id not in h5:
            msg = f"video '{video_id}': no dataset of that name in {self.path}"
            raise FeatureError(msg)
        return check_features(h5[video_id][()], video_id, str(self.path), self.dim)

    def __getstate__(self) -> dict:
        return {**self.__dict__, "_file": None}


def resample_nearest(array: np.ndarray, length: int) -> np.ndarray:
    """Row ``i`` of the result is row ``floor(i * n / length)`` of ``array`` (n rows)."""
    idx = np.floor(np.arange(length) * array.shape[0] / length).astype(np.int64)
    return array[idx]


class ConcatStore:
    """Several stores joined on the feature axis; shorter sequences are resampled (nearest
    index) to the longest one's length before concatenation."""

    def __init__(self, stores: Sequence[FeatureStore]) -> None:
        if not stores:
            msg = "ConcatStore needs at least one store"
            raise FeatureError(msg)
        self.stores = list(stores)
        self.name = "+".join(s.name for s in self.stores)
        dims = [s.dim for s in self.stores]
        self.dim = None if None in dims else sum(dims)  # type: ignore[arg-type]

    def __contains__(self, video_id: object) -> bool:
        return all(video_id in s for s in self.stores)

    def load(self, video_id: str) -> np.ndarray:
        parts = [s.load(video_id) for s in self.stores]
        length = max(p.shape[0] for p in parts)
        return np.concatenate([resample_nearest(p, length) for p in parts], axis=1)


def pool_to_length(array: np.ndarray, max_len: int) -> np.ndarray:
    """Max-pool ``(L, D)`` to ``(min(L, max_len), D)``: output row ``i`` is the max over input
    rows ``[floor(i*L/max_len), floor((i+1)*L/max_len))`` (TEA: 128 at most)."""
    n = array.shape[0]
    if n <= max_len:
        return array
    bounds = np.floor(np.arange(max_len + 1) * n / max_len).astype(np.int64)
    return np.maximum.reduceat(array, bounds[:-1], axis=0)


def pad_to_length(array: np.ndarray, length: int) -> tuple[np.ndarray, np.ndarray]:
    """Zero-pad ``(n, D)`` to ``(length, D)``; the mask is True on the ``n`` real rows."""
    n = array.shape[0]
    if n > length:
        msg = f"cannot pad {n} rows to {length}; pool first"
        raise ValueError(msg)
    out = np.zeros((length, *array.shape[1:]), dtype=array.dtype)
    out[:n] = array
    mask = np.zeros(length, dtype=bool)
    mask[:n] = True
    return out, mask


def _guess_layout(path: Path) -> str:
    if path.is_file():
        if path.suffix.lower() in (".h5", ".hdf5", ".hdf"):
            return "hdf5"
        msg = f"{path}: a feature file must be HDF5 (.h5/.hdf5); folders hold .npz or .npy"
        raise FeatureError(msg)
    if path.is_dir():
        for layout in ("npz", "npy"):
            if next(path.glob(f"*.{layout}"), None) is not None:
                return layout
        msg = f"{path}: folder holds neither .npz nor .npy files"
        raise FeatureError(msg)
    msg = f"feature path {path} does not exist"
    raise FeatureError(msg)


def open_store(spec: str | Path, layout: str = "auto", dim: int | None = None) -> FeatureStore:
    """Open one store. ``spec`` is a path, optionally prefixed ``layout:`` (``npz:/feats``)."""
    text = str(spec)
    head, sep, tail = text.partition(":")
    if sep and head in FEATURE_STORES:
        layout, text = head, tail
    path = Path(text).expanduser()
    if layout == "auto":
        layout = _guess_layout(path)
    return FEATURE_STORES.get(layout)(path, dim=dim)


def open_stores(specs: Sequence[str | Path], layout: str = "auto") -> FeatureStore:
    """One store, or a ``ConcatStore`` when several feature sets are given."""
    if not specs:
        msg = "no video features given: pass --features DIR (several for concatenation)"
        raise FeatureError(msg)
    stores = [open_store(s, layout) for s in specs]
    return stores[0] if len(stores) == 1 else ConcatStore(stores)
