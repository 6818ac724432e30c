"""Everything a run checks and builds before any model loads: the dataset, the prompts (each
rendered once with its declared sample variables), the backend name, the model folder, and the
per-kind identities that go into cache keys. Bad configs fail here with a clear message."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from groundwork.errors import InputError
from pipeline.backends.base import BACKENDS
from pipeline.config import PriorsConfig
from pipeline.datasets.base import DATASETS, Annotations, Video
from groundwork.cache.hashing import canonical_json
from groundwork.cache.keys import GenerationIdentity
from pipeline.kinds import PLANNERS, PlanSettings, Planner


@dataclass
class Prepared:
    annotations: Annotations
    videos: list[Video]
    templates: dict[str, Any]  # kind -> PromptTemplate
    identities: dict[str, GenerationIdentity]
    planners: dict[str, Planner]
    provenance: dict[str, dict[str, Any]]  # kind -> constant columns of its prior rows
    sampler: Any  # FrameSampler


def model_revision(model: str, backend: Any = None, options: dict[str, Any] | None = None) -> str:
    """Revision for keys, known before the model loads: the backend's own when it has one (a
    stand-in), else a local folder's config + weight files, else the hub commit of the cached
    config."""
    own = backend.key_revision(model, options or {}) if backend is not None else None
    if own is not None:
        return own
    folder = Path(model)
    if folder.is_dir():
        from pipeline.backends.engine import local_revision

        return local_revision(folder)
    try:
        from transformers import AutoConfig

        return getattr(AutoConfig.from_pretrained(model), "_commit_hash", None) or ""
    except (OSError, ValueError) as exc:
        msg = f"PriorsConfig.model: '{model}' is neither a local folder nor a model the hub cache holds: {exc}"
        raise InputError(msg) from exc


def select_videos(ann: Annotations, config: PriorsConfig) -> list[Video]:
    wanted = {q.video_id for q in ann.queries if config.splits is None or q.split in config.splits}
    videos = [v for vid, v in ann.videos.items() if vid in wanted]
    return videos[: config.limit] if config.limit else videos


def prepare(config: PriorsConfig) -> Prepared:
    import pipeline.backends  # noqa: F401 - fills BACKENDS
    import pipeline.datasets  # noqa: F401 - fills DATASETS
    from pipeline.frames import FrameSampler, ResizePolicy
    from pipeline.prompts import load_prompt

    adapter = DATASETS.get(config.dataset)
    backend = BACKENDS.get(config.backend)
    backend.check_run(config.dataset)
    templates = {}
    for kind in config.kinds:
        PLANNERS.get(kind)
        choice = config.prompt_for(kind)
        templates[kind] = load_prompt(choice.id, choice.version, config.prompts_dir)  # PromptError names file, field
    sampler = FrameSampler(interval=config.interval, resize=ResizePolicy(**config.resize))
    revision = model_revision(config.model, backend, config.backend_options)
    ann = adapter(Path(config.annotations), config.video_root)
    identities, planners, provenance = {}, {}, {}
    for kind, tpl in templates.items():
        ident = GenerationIdentity(config.model, revision, tpl.id, tpl.version, tpl.sha256, sampler.spec(),
                                   config.sampling_for(kind).model_dump())
        identities[kind] = ident
        settings = PlanSettings(interval=config.interval, clip_len=config.clip_len, n_images=max(1, tpl.n_images),
                                segment_len=config.segment_len)
        planners[kind] = PLANNERS.get(kind)(ident, settings)
        provenance[kind] = {"model": config.model, "model_revision": revision, "prompt_id": tpl.id,
                            "prompt_version": tpl.version, "prompt_sha256": tpl.sha256,
                            "sampling": canonical_json(config.sampling_for(kind).model_dump()), "backend": config.backend}
    return Prepared(ann, select_videos(ann, config), templates, identities, planners, provenance, sampler)
