"""What the backends that run a model in this process (``transformers``, ``vllm``) share: the
model revision that goes into cache keys and the model family adapter that ``setup()`` loads.
Light to import: no torch, no engine."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

from groundwork.cache.hashing import canonical_json
from pipeline.backends.base import Backend


def local_revision(folder: Path) -> str:
    """sha256 over config.json's bytes and the weight files' names and sizes."""
    h = hashlib.sha256((folder / "config.json").read_bytes())
    weights = sorted(p for p in folder.iterdir() if p.suffix in (".safetensors", ".bin"))
    h.update(canonical_json([[p.name, p.stat().st_size] for p in weights]).encode())
    return h.hexdigest()


def loaded_revision(config: Any, model: str | Path) -> str:
    """The hub commit the loaded config came from, else a local folder's ``local_revision``."""
    folder = Path(model)
    commit = getattr(config, "_commit_hash", None)
    return commit or (local_revision(folder) if folder.is_dir() else "")


class LocalEngineBackend(Backend):
    """A backend whose ``setup()`` loads the model here and sets ``_adapter`` and ``_revision``."""

    _adapter: Any = None  # pipeline.backends.adapters.ModelAdapter once set up
    _revision: str = ""

    @property
    def model_revision(self) -> str:
        return self._revision

    def check_ready(self) -> None:
        self.adapter  # noqa: B018 - raises when setup() was not called

    @property
    def adapter(self) -> Any:
        if self._adapter is None:
            msg = f"{self.name} backend: call setup() before generate() (model {self.model})"
            raise RuntimeError(msg)
        return self._adapter
