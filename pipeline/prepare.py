"""Everything a run checks and builds before any model loads: the dataset, the prompts (each
rendered once with its declared sample variables), the backend name, the model folder, and the
per-kind identities that go into cache keys. Bad configs fail here with a clear message."""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from groundwork.cache.hashing import canonical_json
from groundwork.cache.keys import GenerationIdentity
from groundwork.errors import InputError, MissingInputError
from pipeline.backends.base import BACKENDS
from pipeline.config import PriorsConfig
from pipeline.datasets.base import DATASETS, Annotations, Video
from pipeline.kinds import PLANNERS, Planner, PlanSettings


@dataclass
class Prepared:
    annotations: Annotations
    videos: list[Video]
    templates: dict[str, Any]  # kind -> PromptTemplate
    identities: dict[str, GenerationIdentity]
    planners: dict[str, Planner]
    provenance: dict[str, dict[str, Any]]  # kind -> constant columns of its prior rows
    sampler: Any  # FrameSampler
    missing_videos: list[str] = field(default_factory=list)  # selected videos without a file (frame kinds only)
    video_root_note: str = ""  # where the videos were looked for, for messages


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


def load_annotations(
    dataset: str, annotations: Path, video_root: Path | None = None, options: dict[str, Any] | None = None
) -> Annotations:
    """The dataset's adapter on these folders with its keyword ``options`` (``dataset_options``;
    an option it does not take is an ``InputError`` naming it and those it takes)."""
    import inspect

    adapter, options = DATASETS.get(dataset), dict(options or {})
    params = inspect.signature(adapter).parameters
    unknown = sorted(k for k in options if k not in params or k in ("annotations", "video_root"))
    if unknown:
        takes = sorted(k for k in params if k not in ("annotations", "video_root"))
        msg = f"dataset_options: dataset '{dataset}' takes no option {unknown} (it takes: {', '.join(takes) or 'none'})"
        raise InputError(msg)
    return adapter(Path(annotations), video_root, **options)


def select_videos(ann: Annotations, config: PriorsConfig) -> list[Video]:
    wanted = {q.video_id for q in ann.queries if config.splits is None or q.split in config.splits}
    videos = [v for vid, v in ann.videos.items() if vid in wanted]
    return videos[: config.limit] if config.limit else videos


def limit_kinds(planners: dict[str, Planner], ann: Annotations, kind_splits: dict[str, list[str]]) -> None:
    """``PriorsConfig.kind_splits``: each named kind planned only for those splits' queries (a
    split the annotations lack is an ``InputError`` naming the splits they have)."""
    have = sorted({q.split for q in ann.queries})
    for kind, splits in kind_splits.items():
        unknown = [s for s in splits if s not in have]
        if unknown:
            msg = (
                f"kind_splits: {kind}={','.join(splits)}: no split {', '.join(unknown)} "
                f"(the annotations have {', '.join(have)})"
            )
            raise InputError(msg)
        planners[kind].limit_to(splits, [q.query_id for q in ann.queries if q.split in splits])


def prepare(config: PriorsConfig) -> Prepared:
    import pipeline.backends  # noqa: F401 - fills BACKENDS
    import pipeline.datasets  # noqa: F401 - fills DATASETS
    from pipeline.frames import FrameSampler, ResizePolicy
    from pipeline.prompts import load_prompt

    DATASETS.get(config.dataset)  # an unknown name: an InputError listing them, before any loading
    backend = BACKENDS.get(config.backend)
    backend.check_run(config.dataset)
    templates = {}
    for kind in config.kinds:
        PLANNERS.get(kind)
        choice = config.prompt_for(kind)
        templates[kind] = load_prompt(choice.id, choice.version, config.prompts_dir)  # PromptError names file, field
    sampler = FrameSampler(interval=config.interval, resize=ResizePolicy(**config.resize))
    revision = model_revision(config.model, backend, config.backend_options)
    ann = load_annotations(config.dataset, config.annotations, config.video_root, config.dataset_options)
    identities, planners, provenance = {}, {}, {}
    for kind, tpl in templates.items():
        ident = GenerationIdentity(
            config.model,
            revision,
            tpl.id,
            tpl.version,
            tpl.sha256,
            sampler.spec(),
            config.sampling_for(kind).model_dump(),
        )
        identities[kind] = ident
        settings = PlanSettings(
            interval=config.interval,
            clip_len=config.clip_len,
            n_images=max(1, tpl.n_images),
            segment_len=config.segment_len,
            key_frame_source=config.key_frame_source,
            key_frame_percent=config.key_frame_percent,
            key_frame_min=config.key_frame_min,
            key_frame_max=config.key_frame_max,
        )
        planners[kind] = PLANNERS.get(kind)(ident, settings)
        provenance[kind] = {
            "model": config.model,
            "model_revision": revision,
            "prompt_id": tpl.id,
            "prompt_version": tpl.version,
            "prompt_sha256": tpl.sha256,
            "sampling": canonical_json(config.sampling_for(kind).model_dump()),
            "backend": config.backend,
        }
    limit_kinds(planners, ann, config.kind_splits)
    videos = select_videos(ann, config)
    missing, note = check_videos(config, videos, templates)
    return Prepared(ann, videos, templates, identities, planners, provenance, sampler, missing, note)


def check_videos(config: PriorsConfig, videos: list[Video], templates: dict[str, Any]) -> tuple[list[str], str]:
    """The selected videos without a file when a kind needs frames (its prompt takes images), and
    where they were looked for. None found: a ``MissingInputError`` before Ray starts, unless
    ``allow_missing_videos`` (such a run used to write an error row per frame request for
    minutes); some missing: said on stderr now, and each gets one error row per frame kind."""
    note = f"video root {config.video_root}" if config.video_root else "no --video-root given"
    framed = sorted(kind for kind, tpl in templates.items() if tpl.n_images > 0)
    missing = [v.video_id for v in videos if v.path is None] if framed else []
    if not missing:
        return [], note
    found, total = len(videos) - len(missing), len(videos)
    if not found and not config.allow_missing_videos:
        msg = (
            f"{note}: found 0 of the {total:,} videos of {config.dataset} this run selected, and kinds "
            f"{', '.join(framed)} need their frames. Give --video-root (a folder with <video_id>.mp4 files, "
            "searched recursively), run text-only kinds (query_rewrite), or pass --allow-missing-videos to "
            "write one missing_video error row per video and kind"
        )
        raise MissingInputError(msg)
    print(
        f"priors run: {len(missing):,} of {total:,} videos of {config.dataset} have no file ({note}); "
        f"each gets one missing_video error row per kind ({', '.join(framed)}) and no frames",
        file=sys.stderr,
    )
    return missing, note
