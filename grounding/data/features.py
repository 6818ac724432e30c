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
array: a missing or unreadable video, a wrong rank, dtype or width, and NaN/inf values raise
``FeatureError`` naming the video and the file (a width error also names the expected and the
found width, and where the expectation came from).

Width: a store opened with ``dim`` enforces it; one opened without takes the width of the first
video it loads (``grounding.data.dataset.probe_dims`` loads one before the model is built) and
enforces that from then on, so a file of another width fails when it is loaded, naming itself,
not later in the collate as "cannot reshape array". ``expect_width`` sets the width from
elsewhere (a checkpoint's ``video_dim``). ``store.files(video_id)`` names the files that hold a
video (``grounding.data.check`` keys its cache on their size and mtime).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Protocol

import numpy as np

from groundwork.cache.fs import CachePath, StorePath, cache_location, readable
from groundwork.errors import InputError
from groundwork.registry import Registry


class FeatureError(InputError):
    """A video's features are missing or malformed; the message names the video and the file.
    A user error (``groundwork.errors.InputError``, still a ``ValueError``)."""


class FeatureStore(Protocol):
    name: str
    dim: int | None  # expected feature width; None = take whatever the first loaded video has

    def load(self, video_id: str) -> np.ndarray: ...

    def files(self, video_id: str) -> list[Path]: ...

    def __contains__(self, video_id: object) -> bool: ...


FEATURE_STORES: Registry[type] = Registry("feature store")


def check_features(array: np.ndarray, video_id: str, source: str, dim: int | None, origin: str = "") -> np.ndarray:
    """Return ``array`` as float32 ``(L, D)``, or raise ``FeatureError`` naming video and file
    (and, for a width error, the expected and found width; ``origin`` says where ``dim`` came from)."""
    array = np.asarray(array)
    if array.ndim != 2 or array.shape[0] == 0:
        msg = f"video '{video_id}' in {source}: expected features of shape (L, D) with L >= 1, got {array.shape}"
        raise FeatureError(msg)
    if array.dtype.kind not in "fiub":
        msg = f"video '{video_id}' in {source}: expected numeric features, got dtype {array.dtype}"
        raise FeatureError(msg)
    if dim is not None and array.shape[1] != dim:
        why = f" ({origin})" if origin else ""
        msg = (f"video '{video_id}' in {source}: expected feature dimension {dim}, got {array.shape[1]}{why}; "
               f"the file has shape {array.shape}")
        raise FeatureError(msg)
    array = array.astype(np.float32, copy=False)
    if not np.isfinite(array).all():
        bad = int((~np.isfinite(array)).any(axis=1).sum())
        msg = f"video '{video_id}' in {source}: {bad} of {array.shape[0]} rows hold NaN or inf"
        raise FeatureError(msg)
    return array


class _WidthPinned:
    """The width rule every single store follows: ``dim`` given -> enforced; ``dim`` None -> the
    first successfully loaded video's width, then enforced (``dim_origin`` says which)."""

    dim: int | None
    dim_origin: str

    def _init_width(self, dim: int | None) -> None:
        self.dim = dim
        self.dim_origin = "the width this store was opened with" if dim is not None else ""

    def _checked(self, array: np.ndarray, video_id: str, source: str) -> np.ndarray:
        out = check_features(array, video_id, source, self.dim, self.dim_origin)
        if self.dim is None:
            self.dim = int(out.shape[1])
            self.dim_origin = f"the width of video '{video_id}', the first one this store loaded, in {source}"
        return out

    def expect_width(self, dim: int, origin: str) -> None:
        """Enforce ``dim`` from now on; ``origin`` names where it comes from in error messages."""
        self.dim, self.dim_origin = int(dim), origin


def _read_error(video_id: str, path: Path, err: Exception) -> FeatureError:
    return FeatureError(f"video '{video_id}': cannot read features from {path} ({type(err).__name__}: {err})")


class _FolderStore(_WidthPinned):
    suffix = ""

    def __init__(self, root: str | CachePath, dim: int | None = None) -> None:
        self.root = cache_location(root)
        self._init_width(dim)
        self.name = f"{self.suffix.lstrip('.')}:{self.root}"
        if not self.root.is_dir():
            msg = f"feature folder {self.root} does not exist"
            raise FeatureError(msg)

    def path(self, video_id: str) -> CachePath:
        return self.root / f"{video_id}{self.suffix}"

    def files(self, video_id: str) -> list[CachePath]:
        return [self.path(video_id)]

    def __contains__(self, video_id: object) -> bool:
        return isinstance(video_id, str) and self.path(video_id).is_file()

    def load(self, video_id: str) -> np.ndarray:
        path = self.path(video_id)
        if not path.is_file():
            msg = f"video '{video_id}': no features at {path}"
            raise FeatureError(msg)
        try:
            array = self._read(path)
        except FeatureError:
            raise
        except Exception as err:  # a truncated or corrupt file: np.load raises many types
            raise _read_error(video_id, path, err) from err
        return self._checked(array, video_id, str(path))

    def _read(self, path: CachePath) -> np.ndarray:
        raise NotImplementedError


@FEATURE_STORES.register("npz")
class NpzStore(_FolderStore):
    """A folder of ``{vid}.npz``, array under key ``features``."""

    suffix = ".npz"

    def _read(self, path: CachePath) -> np.ndarray:
        with np.load(readable(path)) as data:
            if "features" not in data.files:
                msg = f"{path}: no key 'features' (keys: {', '.join(data.files)})"
                raise FeatureError(msg)
            return data["features"]


@FEATURE_STORES.register("npy")
class NpyStore(_FolderStore):
    """A folder of ``{vid}.npy``."""

    suffix = ".npy"

    def _read(self, path: CachePath) -> np.ndarray:
        return np.load(readable(path))


@FEATURE_STORES.register("hdf5")
class Hdf5Store(_WidthPinned):
    """One HDF5 file, one dataset per video id. The file is opened on first use (and again in
    each DataLoader worker, since h5py handles do not survive a fork)."""

    def __init__(self, path: str | CachePath, dim: int | None = None) -> None:
        if isinstance(path, StorePath):
            msg = f"feature file {path}: HDF5 files are read from a local path (copy it, or use npz / npy folders)"
            raise FeatureError(msg)
        self.path = Path(path)
        self._init_width(dim)
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

    def files(self, video_id: str) -> list[Path]:  # noqa: ARG002 - one file holds every video
        return [self.path]

    def load(self, video_id: str) -> np.ndarray:
        h5 = self._h5()
        if video_id not in h5:
            msg = f"video '{video_id}': no dataset of that name in {self.path}"
            raise FeatureError(msg)
        try:
            array = h5[video_id][()]
        except Exception as err:  # a group instead of a dataset, a damaged chunk
            raise _read_error(video_id, self.path, err) from err
        return self._checked(array, video_id, f"{self.path}:{video_id}")

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
        self._expected: tuple[int, str] | None = None

    @property
    def dim(self) -> int | None:
        """The expected total width: set by ``expect_width``, else the sum of the parts' widths
        once each is known (each part pins its own on its first load)."""
        if self._expected is not None:
            return self._expected[0]
        dims = [s.dim for s in self.stores]
        return None if None in dims else sum(dims)  # type: ignore[arg-type]

    def expect_width(self, dim: int, origin: str) -> None:
        self._expected = (int(dim), origin)

    def files(self, video_id: str) -> list[Path]:
        return [f for s in self.stores for f in s.files(video_id)]

    def __contains__(self, video_id: object) -> bool:
        return all(video_id in s for s in self.stores)

    def load(self, video_id: str) -> np.ndarray:
        parts = [s.load(video_id) for s in self.stores]
        length = max(p.shape[0] for p in parts)
        out = np.concatenate([resample_nearest(p, length) for p in parts], axis=1)
        if self._expected is not None and out.shape[1] != self._expected[0]:
            widths = " + ".join(f"{p.shape[1]} ({', '.join(map(str, s.files(video_id)))})"
                                for s, p in zip(self.stores, parts, strict=True))
            msg = (f"video '{video_id}': expected feature dimension {self._expected[0]} ({self._expected[1]}), "
                   f"got {out.shape[1]} = {widths}")
            raise FeatureError(msg)
        return out


class L2NormalizedStore:
    """A store whose rows come back L2-normalised (MESM's per-frame normalisation of each feature
    file; an all-zero row stays zero)."""

    def __init__(self, store: FeatureStore) -> None:
        self.store = store
        self.name = f"{store.name}+l2"

    @property
    def dim(self) -> int | None:
        return self.store.dim

    def expect_width(self, dim: int, origin: str) -> None:
        self.store.expect_width(dim, origin)

    def files(self, video_id: str) -> list[Path]:
        return self.store.files(video_id)

    def __contains__(self, video_id: object) -> bool:
        return video_id in self.store

    def load(self, video_id: str) -> np.ndarray:
        x = self.store.load(video_id)
        norm = np.linalg.norm(x, axis=1, keepdims=True)
        return (x / np.maximum(norm, 1e-12)).astype(x.dtype, copy=False)


def l2_normalized(store: FeatureStore) -> FeatureStore:
    """``store`` with every row L2-normalised; the parts of a ``ConcatStore`` each by itself
    (before concatenation, as MESM normalises each feature file)."""
    if isinstance(store, ConcatStore):
        return ConcatStore([L2NormalizedStore(s) for s in store.stores])
    return L2NormalizedStore(store)


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


def _guess_layout(path: CachePath) -> str:
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
    path = cache_location(text)
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
