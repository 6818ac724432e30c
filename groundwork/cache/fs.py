"""Cache roots on any file system pyarrow can write.

A cache location is either a local path (a ``pathlib.Path``: local disk or a shared mount such as
NFS) or a URI that ``pyarrow.fs.FileSystem.from_uri`` understands: ``s3://bucket/prefix``,
``gs://bucket/prefix``, ``hdfs://host/path``, ``abfs://...``. Options ride in the URI's query
(``s3://bucket/cache?endpoint_override=minio:9000&scheme=http``); credentials come from the
usual environment (``AWS_ACCESS_KEY_ID``, ``GOOGLE_APPLICATION_CREDENTIALS``, ...).

A URI becomes a ``StorePath``: the few ``pathlib.Path`` methods the cache code uses (``/``,
``name``, ``exists``, ``iterdir``, ``glob``, ``stat``, ``read_bytes``, ``unlink``, ...), over the
pyarrow file system, so the cache modules take either kind of path. ``str()`` of a ``StorePath``
is its full URI (query included), so it survives a trip through a manifest or a Ray worker.

What differs on an object store (``object_store``): a write is one PUT of a finished local file
(nothing half-written is ever visible, no ``.tmp-*`` names are left behind), there are no hard
links or exclusive creates (work claims there are best effort: ``groundwork.cache.claims``), and
modification times are the store's clock.
"""

from __future__ import annotations

import contextlib
import fnmatch
import io
import os
import re
import shutil
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pyarrow.fs as pafs

from groundwork.errors import InputError

_SCHEME = re.compile(r"^([a-zA-Z][a-zA-Z0-9+.-]*)://")
OBJECT_STORES = ("s3", "gcs", "abfs")  # pyarrow type names of stores where a written object appears whole


def is_uri(value: object) -> bool:
    """True for ``scheme://...`` other than ``file://`` (which is a local path)."""
    m = _SCHEME.match(str(value))
    return bool(m) and m.group(1).lower() != "file"


@dataclass(frozen=True)
class StoreStat:
    """What ``StorePath.stat()`` returns: the two fields the cache reads."""

    st_size: int
    st_mtime: float


class StorePath:
    """A file or folder on a pyarrow file system, named by URI (see the module docstring)."""

    __slots__ = ("fs", "path", "_scheme", "_query")

    def __init__(self, fs: pafs.FileSystem, path: str, scheme: str, query: str = "") -> None:
        self.fs = fs
        self.path = path.rstrip("/")
        self._scheme = scheme
        self._query = query

    @classmethod
    def from_uri(cls, uri: str) -> StorePath:
        try:
            fs, path = pafs.FileSystem.from_uri(uri)
        except (ValueError, OSError) as exc:  # pyarrow's own words name the scheme or option
            msg = f"cache location {uri!r}: pyarrow cannot open it ({exc})"
            raise InputError(msg) from None
        scheme = _SCHEME.match(uri).group(1)
        query = uri.split("?", 1)[1] if "?" in uri else ""
        return cls(fs, path, scheme, query)

    # -- naming ------------------------------------------------------------------------
    def _child(self, path: str) -> StorePath:
        return StorePath(self.fs, path, self._scheme, self._query)

    def __truediv__(self, other: str | os.PathLike) -> StorePath:
        return self._child(f"{self.path}/{str(other).strip('/')}")

    @property
    def name(self) -> str:
        return self.path.rsplit("/", 1)[-1]

    @property
    def parent(self) -> StorePath:
        return self._child(self.path.rsplit("/", 1)[0]) if "/" in self.path else self

    @property
    def suffix(self) -> str:
        return Path(self.name).suffix

    @property
    def stem(self) -> str:
        return Path(self.name).stem

    def with_name(self, name: str) -> StorePath:
        return self.parent / name

    def expanduser(self) -> StorePath:
        return self

    def absolute(self) -> StorePath:
        return self

    def resolve(self) -> StorePath:
        return self

    @property
    def object_store(self) -> bool:
        """True where a written object appears whole and nothing can be renamed atomically."""
        return self.fs.type_name in OBJECT_STORES

    def __str__(self) -> str:
        return f"{self._scheme}://{self.path}" + (f"?{self._query}" if self._query else "")

    def __repr__(self) -> str:
        return f"StorePath({str(self)!r})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, StorePath) and str(self) == str(other)

    def __lt__(self, other: StorePath) -> bool:
        return self.path < other.path

    def __hash__(self) -> int:
        return hash(str(self))

    def __reduce__(self):  # pickled by URI: file system objects pickle too, but a URI is what a worker needs
        return (StorePath.from_uri, (str(self),))

    # -- looking ---------------------------------------------------------------------------
    def _info(self) -> pafs.FileInfo:
        return self.fs.get_file_info(self.path)

    def exists(self) -> bool:
        return self._info().type != pafs.FileType.NotFound

    def is_dir(self) -> bool:
        return self._info().type == pafs.FileType.Directory

    def is_file(self) -> bool:
        return self._info().type == pafs.FileType.File

    def stat(self) -> StoreStat:
        info = self._info()
        if info.type == pafs.FileType.NotFound:
            raise FileNotFoundError(2, "No such file or directory", str(self))
        mtime = info.mtime.timestamp() if info.mtime is not None else 0.0
        return StoreStat(int(info.size or 0), mtime)

    def _list(self, recursive: bool) -> list[pafs.FileInfo]:
        return self.fs.get_file_info(pafs.FileSelector(self.path, allow_not_found=True, recursive=recursive))

    def iterdir(self) -> Iterator[StorePath]:
        for info in sorted(self._list(False), key=lambda i: i.path):
            yield self._child(info.path)

    def glob(self, pattern: str) -> Iterator[StorePath]:
        """Names matching ``pattern`` relative to this folder, level by level (``*/*.json``)."""
        depth = pattern.count("/") + 1
        infos = self._list(depth > 1)
        for info in sorted(infos, key=lambda i: i.path):
            rel = info.path[len(self.path) + 1 :]
            if rel.count("/") + 1 == depth and fnmatch.fnmatchcase(rel, pattern):
                yield self._child(info.path)

    def rglob(self, pattern: str) -> Iterator[StorePath]:
        for info in sorted(self._list(True), key=lambda i: i.path):
            if fnmatch.fnmatchcase(info.base_name, pattern):
                yield self._child(info.path)

    # -- reading and writing ---------------------------------------------------------------
    def read_bytes(self) -> bytes:
        with gone_as_not_found(self), self.fs.open_input_stream(self.path) as f:
            return f.read()

    def read_text(self, encoding: str = "utf-8") -> str:
        return self.read_bytes().decode(encoding)

    def write_bytes(self, data: bytes) -> int:
        """One stream; on an object store the object appears when it is complete."""
        with self.fs.open_output_stream(self.path) as f:
            f.write(data)
        return len(data)

    def write_text(self, text: str, encoding: str = "utf-8") -> int:
        return self.write_bytes(text.encode(encoding))

    def unlink(self, missing_ok: bool = False) -> None:
        try:
            with gone_as_not_found(self):
                self.fs.delete_file(self.path)
        except FileNotFoundError:
            if not missing_ok:
                raise

    def mkdir(self, parents: bool = False, exist_ok: bool = False) -> None:
        if self.object_store:  # folders are prefixes: nothing to make
            return
        if not exist_ok and self.exists():
            raise FileExistsError(str(self))
        self.fs.create_dir(self.path, recursive=parents)

    def rename(self, target: StorePath) -> StorePath:
        self.fs.move(self.path, target.path)
        return target

    def upload(self, local: Path) -> None:
        """Copy the local file ``local`` here (one PUT on an object store)."""
        with open(local, "rb") as src, self.fs.open_output_stream(self.path) as dst:
            shutil.copyfileobj(src, dst, length=8 << 20)


CachePath = Path | StorePath


@contextlib.contextmanager
def gone_as_not_found(path: CachePath) -> Iterator[None]:
    """Inside the block, an error about a ``StorePath`` that is not there is raised as
    ``FileNotFoundError``, as a local disk raises it (object stores word it otherwise), so callers
    handle a missing file one way on every file system (``read_shards`` lists again)."""
    try:
        yield
    except OSError as exc:
        if isinstance(path, StorePath) and not isinstance(exc, FileNotFoundError) and not path.exists():
            raise FileNotFoundError(2, "No such file or directory", str(path)) from exc
        raise


def location_text(value: object) -> object:
    """A cache location as configs keep it: a string (a ``Path`` or ``StorePath`` given in code
    becomes its text; a URI must not pass through ``Path``, which folds its ``//``)."""
    if isinstance(value, StorePath):
        return str(value)
    return os.fspath(value) if isinstance(value, os.PathLike) else value


def cache_location(value: str | os.PathLike | StorePath) -> CachePath:
    """A cache location from a flag, an environment variable or a manifest: a URI becomes a
    ``StorePath``, anything else a local ``Path`` (``~`` expanded; ``file://`` stripped)."""
    if isinstance(value, StorePath):
        return value
    text = os.fspath(value) if isinstance(value, os.PathLike) else str(value)
    if is_uri(text):
        return StorePath.from_uri(text)
    if text.startswith("file://"):
        text = text[len("file://") :]
    return Path(text).expanduser()


def readable(path: CachePath) -> Path | io.BytesIO:
    """What ``np.load`` reads for ``path``: the path itself when it is local, else its bytes."""
    return io.BytesIO(path.read_bytes()) if isinstance(path, StorePath) else Path(path)


def store_write(path: StorePath, write: Callable[[Path], object], tmp_prefix: str) -> StorePath:
    """``write(local)`` fills a local temporary file, which then lands at ``path`` whole: one PUT
    on an object store; elsewhere (HDFS) an upload under a ``tmp_prefix`` name and a rename."""
    with tempfile.TemporaryDirectory(prefix="groundwork-") as tmp:
        local = Path(tmp) / path.name
        write(local)
        if path.object_store:
            path.upload(local)
            return path
        path.parent.mkdir(parents=True, exist_ok=True)
        staged = path.with_name(f"{tmp_prefix}{os.urandom(16).hex()}-{path.name}")
        try:
            staged.upload(local)
            staged.rename(path)
        except BaseException:
            staged.unlink(missing_ok=True)
            raise
    return path
