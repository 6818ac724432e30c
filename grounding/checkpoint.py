"""Checkpoints: a folder holding

- ``model.safetensors``: the weights;
- ``checkpoint.json``: the full training config, the model's constructor arguments (dims
  included) and metadata (epoch, step, best validation metric, time);
- ``optimizer.pt``: optimizer, scheduler and AMP-scaler state dicts plus the torch RNG state,
  saved with ``torch.save`` and read back with ``weights_only=True`` (tensors and plain
  containers only, never a pickled object).

A run directory has ``last/`` (for resuming) and ``best/`` (best on the validation split).
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load_file, save_file

from grounding.models import build_model
from grounding.models.base import GroundingModel
from groundwork.atomic import atomic_replace_dir
from groundwork.cache.fs import CachePath, cache_location
from groundwork.errors import InputError, MissingInputError

WEIGHTS, META, STATE = "model.safetensors", "checkpoint.json", "optimizer.pt"


@dataclass
class Checkpoint:
    path: Path
    config: dict[str, Any]  # TrainConfig as JSON
    model_args: dict[str, Any]  # build_model(name, **model_args)
    meta: dict[str, Any]  # epoch, step, best_metric, best_value, ...
    state_dict: dict[str, torch.Tensor]


def resolve(path: str | Path, which: str = "best") -> Path:
    """A checkpoint folder, or a run folder (then its ``best/``, else ``last/``)."""
    path = Path(path)
    if (path / META).is_file():
        return path
    for sub in (which, "best", "last"):
        if (path / sub / META).is_file():
            return path / sub
    msg = f"no checkpoint in {path}: expected {META} there or in {path}/best or {path}/last"
    raise MissingInputError(msg)


def save_checkpoint(
    folder: str | Path,
    model: torch.nn.Module,
    config: dict[str, Any],
    model_args: dict[str, Any],
    meta: dict[str, Any],
    training_state: dict[str, Any] | None = None,
) -> Path:
    """Write into a temporary sibling folder, then swap it in (``groundwork.atomic``), so a kill
    never leaves half a checkpoint."""
    weights = {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
    info = {
        "config": config,
        "model_args": model_args,
        "meta": {**meta, "saved_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())},
    }

    def fill(tmp: Path) -> None:
        save_file(weights, tmp / WEIGHTS)
        (tmp / META).write_text(json.dumps(info, indent=2, sort_keys=True))
        if training_state is not None:
            torch.save(training_state, tmp / STATE)

    return atomic_replace_dir(folder, fill)


def load_checkpoint(path: str | Path, which: str = "best") -> Checkpoint:
    folder = resolve(path, which)
    info = json.loads((folder / META).read_text())
    for key in ("config", "model_args", "meta"):
        if key not in info:
            msg = f"{folder / META}: missing '{key}'"
            raise InputError(msg)
    return Checkpoint(folder, info["config"], info["model_args"], info["meta"], load_file(folder / WEIGHTS))


def checkpoint_model(ckpt: Checkpoint) -> GroundingModel:
    """The checkpoint's model, built from its recorded name and arguments, its weights loaded (on
    the CPU, in training mode as ``build_model`` leaves it)."""
    model = build_model(ckpt.config["model"]["name"], **ckpt.model_args)
    model.load_state_dict(ckpt.state_dict)
    return model


@dataclass
class DataSources:
    """Where a checkpoint's inputs are: the manifest, the feature stores and the cache folder."""

    manifest: Path
    features: list[str]  # empty: the manifest's visual features in the cache
    cache_dir: CachePath | None  # None: the one the manifest records


def data_sources(
    ckpt: Checkpoint,
    manifest: str | Path | None = None,
    features: list[str] | None = None,
    cache_dir: str | Path | None = None,
) -> DataSources:
    """The inputs ``ckpt`` was trained on (absolute paths, as training records them), each replaced
    by its override when one is given. A recorded path that does not exist here (the run folder
    was copied to another machine) is an error naming it and the flag that replaces it."""
    data = ckpt.config["data"]
    cache = cache_dir or data.get("cache_dir")
    sources = DataSources(
        Path(manifest or data["manifest"]),
        [str(f) for f in (features or data.get("features") or [])],
        cache_location(cache) if cache else None,
    )
    recorded = [("manifest", sources.manifest, manifest, "--priors")]
    recorded += [("feature store", Path(f), features, "--features") for f in sources.features if ":" not in f]
    if sources.cache_dir is not None:
        recorded.append(("cache folder", sources.cache_dir, cache_dir, "--cache-dir"))
    for what, path, given, flag in recorded:
        if not path.exists():
            origin = "given" if given else f"recorded in {ckpt.path / META}"
            msg = f"the {what} {path} ({origin}) does not exist; pass {flag} PATH to use another"
            raise MissingInputError(msg)
    return sources


def resume_point(run: str | Path) -> Path | None:
    """The ``last/`` checkpoint a run resumes from, None when it has none yet (killed before its
    first epoch ended: the run starts over). A kill while a new ``last/`` was being swapped in
    (``groundwork.atomic.atomic_replace_dir``: the old one renamed aside, the new one not yet in
    place) leaves the previous checkpoint as ``.old-*-last``: it is put back and resumed from."""
    last = Path(run) / "last"
    if (last / META).is_file():
        return last
    olds = [p for p in Path(run).glob(".old-*-last") if (p / META).is_file() and (p / STATE).is_file()]
    if not olds or last.exists():
        return None
    max(olds, key=lambda p: json.loads((p / META).read_text())["meta"]["step"]).rename(last)
    return last


def load_training_state(path: str | Path) -> dict[str, Any]:
    file = Path(path) / STATE
    if not file.is_file():
        msg = f"cannot resume: {file} does not exist"
        raise MissingInputError(msg)
    return torch.load(file, map_location="cpu", weights_only=True)
