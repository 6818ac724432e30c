"""What a priors run needs to run on a Ray cluster whose workers have only Ray and the
dependencies installed (not this project): the project shipped through Ray's ``runtime_env``,
paths that mean the same on every worker, and GPUs asked for by the stages that use them.

- ``project_runtime_env`` copies ``groundwork/``, ``pipeline/`` and ``prompts/`` (nothing else:
  no venvs, caches, data, runs or manifests) into a temporary folder and gives it as the job's
  ``working_dir``; ``ray.init`` zips and uploads it to the cluster, and every worker unpacks it
  and starts there, so it imports the driver's own code and finds the prompt files beside
  ``pipeline/`` as the driver does. A user's ``ray_runtime_env`` (pip packages, env vars, more
  ``py_modules``) is merged in (``merge_runtime_env``).
- A worker starts in that unpacked folder, so a relative path would name a different place on
  it: ``worker_path`` makes a local path absolute before it goes to a worker (the cache, the
  videos, a model folder). Cache keys keep the path as the user wrote it.
- ``model_gpus``: the stages that run a model on ``device`` (generate, visual) ask for GPUs when
  it is a CUDA device; light stages ask for fractional CPUs (``pipeline.graph``).

No Ray import here (``pipeline.ray_adapter`` is the only module that imports Ray).
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from groundwork.errors import InputError

SHIPPED = ("groundwork", "pipeline", "prompts")  # folders of the project root a worker needs
IGNORED = shutil.ignore_patterns("__pycache__", "*.pyc", ".*")


def project_root() -> Path:
    """The folder holding ``pipeline/`` (a source checkout or site-packages)."""
    return Path(__file__).resolve().parents[1]


def stage_project(dest: Path, root: Path | None = None) -> list[str]:
    """Copy the shipped folders of ``root`` that exist into ``dest``; returns their names."""
    root = root or project_root()
    copied = []
    for name in SHIPPED:
        if (root / name).is_dir():
            shutil.copytree(root / name, dest / name, ignore=IGNORED)
            copied.append(name)
    return copied


def merge_runtime_env(base: dict[str, Any], extra: dict[str, Any] | None) -> dict[str, Any]:
    """``base`` (the shipped project) with a user's runtime_env merged in: ``env_vars`` merged
    (the user's win), ``py_modules`` and ``excludes`` appended, any other key (``pip``, ``uv``,
    ``conda``, ``config``, ...) taken from the user's. The project is the ``working_dir``, so
    the user's code goes in ``py_modules``."""
    extra = dict(extra or {})
    if "working_dir" in extra:
        msg = (
            "ray_runtime_env.working_dir: the project itself is shipped as the working_dir; give your own code "
            "as ray_runtime_env.py_modules (a list of folders or .whl files) instead"
        )
        raise InputError(msg)
    out = dict(base)
    for key, value in extra.items():
        want = {"env_vars": dict, "py_modules": list, "excludes": list}.get(key)
        if want is not None and not isinstance(value, want):
            msg = (
                f"ray_runtime_env.{key}: expected a {want.__name__}, got {value!r} (give ray_runtime_env in the "
                "--config YAML file)"
            )
            raise InputError(msg)
        if key == "env_vars":
            out[key] = {**out.get(key, {}), **value}
        elif key in ("py_modules", "excludes"):
            out[key] = [*out.get(key, []), *value]
        else:
            out[key] = value
    return out


@contextmanager
def project_runtime_env(extra: dict[str, Any] | None = None) -> Iterator[dict[str, Any]]:
    """A runtime_env shipping the project (see the module docstring); the staged copy is removed
    on exit, which is safe once ``ray.init`` returned (it has uploaded the folder by then)."""
    staged = Path(tempfile.mkdtemp(prefix="groundwork-runtime-env-"))
    try:
        stage_project(staged)
        yield merge_runtime_env({"working_dir": str(staged)}, extra)
    finally:
        shutil.rmtree(staged, ignore_errors=True)


def worker_path(value: str | Path | None) -> str | None:
    """``value`` as an absolute path when it names an existing local file or folder by a relative
    path, else unchanged (a hub id, a URL, a name)."""
    if value is None:
        return None
    path = Path(value).expanduser()
    return str(path.absolute()) if not path.is_absolute() and path.exists() else str(value)


def model_gpus(device: str, num_gpus_per_actor: float) -> float:
    """GPUs per actor of a stage that runs a model on ``device``: ``num_gpus_per_actor`` when
    set, else one on a CUDA device (so the actor lands on a GPU node and is given the GPU), else 0."""
    if num_gpus_per_actor > 0:
        return num_gpus_per_actor
    return 1.0 if device.startswith("cuda") else 0.0
