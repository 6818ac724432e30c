"""Reading a manifest (``manifests/<dataset>.parquet``): its rows and the metadata that says where
the cache is and which text encoder and visual feature set its keys refer to. The pipeline writes
manifests (``pipeline.manifest``); everything that reads one comes through here.

Columns are ``groundwork.cache.layout.manifest_schema(kinds)``: a ``<kind>_keys`` column per prior
kind the run produced; ``ManifestInfo.kinds`` lists them, and ``ManifestInfo.keys(row, kind)`` is
empty for a kind the manifest does not have."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq

from groundwork.cache.fs import CachePath, cache_location
from groundwork.cache.layout import key_column, manifest_kinds
from groundwork.errors import InputError, MissingInputError


@dataclass
class ManifestInfo:
    path: Path
    rows: list[dict[str, Any]]  # every split
    cache_dir: CachePath
    text_encoder: str
    visual_features: str
    dataset: str
    kinds: list[str] = field(default_factory=list)  # prior kinds with a <kind>_keys column
    patch_features: str = ""  # STVG per-frame patch-grid set under <cache>/visual ("" when none)

    def keys(self, row: dict[str, Any], kind: str) -> list[str]:
        """The prior-row keys of ``kind`` listed for one manifest row ([] when the manifest has none)."""
        return list(row.get(key_column(kind)) or [])

    def splits(self) -> list[str]:
        return sorted({r["split"] for r in self.rows})


def read_manifest_meta(path: str | Path) -> dict[str, str]:
    raw = pq.read_schema(path).metadata or {}
    return {k.decode(): v.decode() for k, v in raw.items()}


def read_manifest(path: str | Path, cache_dir: str | Path | None = None) -> ManifestInfo:
    """Rows and metadata of a manifest; ``cache_dir`` overrides the one recorded in it."""
    path = Path(path)
    if not path.is_file():
        msg = f"manifest {path} does not exist (build it with `priors run`, see the README)"
        raise MissingInputError(msg)
    try:
        table = pq.read_table(path)
    except (OSError, ValueError) as exc:
        msg = f"manifest {path} is not a readable Parquet file: {exc}"
        raise InputError(msg) from None
    meta = {k.decode(): v.decode() for k, v in (table.schema.metadata or {}).items()}
    for key in ("text_encoder",) + (() if cache_dir else ("cache_dir",)):
        if not meta.get(key):
            msg = f"manifest {path}: table metadata has no '{key}'"
            raise InputError(msg)
    root = cache_location(cache_dir if cache_dir else meta["cache_dir"])
    if isinstance(root, Path) and not root.is_absolute():
        root = (path.parent / root).resolve() if (path.parent / root).exists() else root
    if not root.is_dir():
        origin = "given" if cache_dir else f"recorded in manifest {path}"
        msg = (
            f"the cache folder {root} ({origin}) does not exist; pass --cache-dir PATH (data.cache_dir) to use another"
        )
        raise MissingInputError(msg)
    return ManifestInfo(
        path,
        table.to_pylist(),
        root,
        meta["text_encoder"],
        meta.get("visual_features", ""),
        meta.get("dataset", path.stem),
        manifest_kinds(table.schema),
        meta.get("patch_features", ""),
    )
