"""``PriorsConfig``: everything one ``priors run`` needs, typed and validated before any model
loads. The CLI (``pipeline/commands/run.py``) builds it from flags; tests build it directly."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from groundwork.cache.fs import location_text
from pipeline import kinds
from pipeline.backends.base import SamplingConfig
from pipeline.presets import default_backend_name

CACHE_HELP = (  # --cache of `priors run` and of the cache commands (status, errors, compact, gc)
    "cache root: a path, or a URI of any file system pyarrow can write (s3://bucket/prefix); "
    "default $GROUNDWORK_CACHE, else ~/.cache/groundwork"
)


class PromptChoice(BaseModel):
    """Which versioned prompt template a prior kind uses (None = the latest version). On a command
    line or in YAML it may be written ``ID`` or ``ID@VERSION`` (``narrate_frame@1``)."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    cli_metavar: ClassVar[str] = "ID[@VERSION]"

    id: str
    version: int | None = None

    @model_validator(mode="before")
    @classmethod
    def _from_text(cls, value: Any) -> Any:
        if not isinstance(value, str):
            return value
        pid, sep, version = value.partition("@")
        if sep and not version.strip().isdigit():
            msg = f"prompt {value!r}: the version after '@' must be a whole number (ID or ID@VERSION)"
            raise ValueError(msg)
        return {"id": pid, "version": int(version) if sep else None}


def default_prompts() -> dict[str, PromptChoice]:
    """Each registered prior kind's default prompt (its planner's ``prompt``), latest version."""
    return {kind: PromptChoice(id=pid) for kind, pid in kinds.default_prompts().items()}


class PriorsConfig(BaseModel):
    """Everything one ``priors run`` needs. On the command line every field is a flag named by its
    dotted path (``--video-root``, ``--sampling.top-p``), from a YAML file with ``--config``, or
    both (``groundwork.settings``)."""

    model_config = ConfigDict(extra="forbid")

    # -- inputs ------------------------------------------------------------------------
    dataset: str = Field(description="dataset adapter name (`priors run --help` lists them)")
    annotations: Path = Field(description="the adapter's annotation folder")
    video_root: Path | None = Field(None, description="folder of the videos (adapter default if unset)")
    dataset_options: dict[str, Any] = Field(
        default_factory=dict,
        description="keyword arguments of the dataset "
        "adapter, e.g. boxes=DIR (vidstg: the VidOR annotation folder with the "
        "boxes; default <annotations>/annotation when it exists)",
    )
    allow_missing_videos: bool = Field(
        False,
        description="run even when the video root holds none of the "
        "selected videos (each video and frame kind gets one missing_video error row); "
        "without it such a run stops before Ray starts. Text-only kinds need no video",
    )
    limit: int | None = Field(None, ge=1, description="process at most this many videos (smoke runs)")
    splits: list[str] | None = Field(None, description="only the videos of these splits (unset: all)")
    kind_splits: dict[str, list[str]] = Field(
        default_factory=dict,
        description="KIND=SPLIT,SPLIT: make that kind only for these splits' videos and queries (a "
        "zero-shot method's priors for the split it is scored on, e.g. key_frame_caption=val,test); "
        "the other splits' manifest rows list none of it. A kind that reads another keeps within its splits",
    )

    # -- outputs -----------------------------------------------------------------------
    cache: str | None = Field(None, description=CACHE_HELP)
    manifest: Path | None = Field(None, description="manifest path (default manifests/<dataset>.parquet)")

    # -- generation --------------------------------------------------------------------
    model: str = Field(description="a preset name (`priors run --help` lists them), a model folder or a hub id")
    backend: str = Field(
        default_factory=default_backend_name,
        description="generation backend: vllm (the default when it imports), transformers, openai, "
        "or the demo's pixel-reading stand-in shapes",
    )
    backend_options: dict[str, Any] = Field(
        default_factory=dict,
        description="keyword arguments of the backend, e.g. base_url=http://host:8000/v1 (openai), max_images=8 (vllm)",
    )
    device: str = Field("cpu", description="torch device of the transformers backend and the encoders (cpu, cuda)")
    kinds: list[str] = Field(
        default_factory=lambda: ["narrative", "clip_caption"], description="prior kinds to generate (pipeline/kinds/)"
    )
    prompts: dict[str, PromptChoice] = Field(
        default_factory=default_prompts, description="prompt template per kind, KIND=ID or KIND=ID@VERSION"
    )
    prompts_dir: Path | None = Field(None, description="a folder of your own prompt files, searched before prompts/")
    interval: float = Field(1.0, gt=0.0, description="seconds between narrated frames")
    clip_len: float = Field(2.0, gt=0.0, description="clip-caption window length in seconds")
    segment_len: float = Field(
        4.0,
        gt=0.0,
        description="query-aware caption segment in seconds (query_caption makes queries x segments requests)",
    )
    key_frame_source: Literal["auto", "narrative", "frame_caption"] = Field(
        "auto",
        description="GranAlign key frames: the kind whose frames are ranked (auto: frame_caption when the "
        "run makes it, else narrative)",
    )
    key_frame_percent: float = Field(
        20.0,
        gt=0.0,
        le=100.0,
        description="GranAlign key frames: the top K % of a video's frames per query (notes: 20)",
    )
    key_frame_min: int = Field(3, ge=1, description="GranAlign key frames: at least this many per query")
    key_frame_max: int = Field(32, ge=1, description="GranAlign key frames: at most this many per query")
    structured_retries: int = Field(2, ge=0, description="re-asks of an invalid JSON answer (event, query_rewrite)")
    retry_temperature: float = Field(
        0.7,
        gt=0.0,
        description="sampling temperature of those re-asks; each "
        "attempt gets its own seed (sampling.seed + attempt), recorded only in "
        "the row's sampling column, never in a cache key",
    )
    resize: dict[str, Any] = Field(
        default_factory=dict,
        description="frame resize policy, e.g. mode=short_side "
        "short_side=336, or mode=fixed width=W height=H (pipeline.frames.ResizePolicy)",
    )
    sampling: SamplingConfig = Field(default_factory=SamplingConfig)
    max_new_tokens_by_kind: dict[str, int] = Field(
        default_factory=lambda: {"event": 384, "query_rewrite": 160, "query_rewrite_pairs": 320},
        description="per-kind max_new_tokens replacing sampling.max_new_tokens (and so in that kind's keys): "
        "a JSON list of events cut at 96 tokens never parses",
    )
    generate_batch_size: int = Field(8, ge=1, description="requests per model call (transformers)")
    generate_concurrency: int = Field(1, ge=1, description="generate actors (one model each)")
    num_gpus_per_actor: float = Field(0.0, ge=0.0, description="GPUs per generate actor (cluster runs)")
    write_batch_size: int = Field(32, ge=1, description="rows per batch of the Ray stage before the write (slim)")
    shard_rows: int = Field(
        20_000,
        ge=1,
        description="a cache shard is written when its folder has this many "
        "rows buffered (or shard_mb, or shard_seconds, or the run ends); a killed run loses "
        "at most what was buffered",
    )
    shard_mb: float = Field(
        32.0, gt=0.0, description="a shard is also written when its folder has this many MB buffered (see shard_rows)"
    )
    shard_seconds: float = Field(
        300.0,
        gt=0.0,
        description="a shard is also written when its folder's oldest buffered row waited this long (see shard_rows)",
    )
    claim_ttl_s: float = Field(
        120.0,
        gt=0.0,
        description="work claims in a shared cache (groundwork.cache.claims): "
        "a claim not renewed for this long lapses and another run takes the work over "
        "(a killed run's claims lapse at once for runs on its host)",
    )
    claim_wait_s: float = Field(
        3600.0, ge=0.0, description="how long to wait for units another live run holds before generating them here too"
    )

    # -- features ----------------------------------------------------------------------
    text_encoder: str = Field(
        "minilm",
        description="text encoder that embeds every text (pipeline/features/text.py): minilm, or "
        "minilm-bf16 (twice as fast on a CPU with bfloat16 support; other vectors, so its own cache folder)",
    )
    embed_batch_size: int = Field(64, ge=1, description="texts per encoder call")
    embed_concurrency: int = Field(
        1,
        ge=1,
        description="text-encoder actors (one encoder and one thread each; together they reserve 0.5 CPU, so "
        "the graph still fits 2 cores): 2 on a machine whose model stage is fast (the demo narrator) keeps "
        "both cores busy (a text two actors both embed is written twice, read once)",
    )
    visual_encoder: str | None = Field(None, description="CLIP-style vision model folder; unset skips visual features")
    visual_interval: float = Field(1.0, gt=0.0, description="seconds between frames of the visual features")

    # -- execution ---------------------------------------------------------------------
    ray_address: str | None = Field(None, description="Ray cluster address (else $RAY_ADDRESS, else a local instance)")
    ray_runtime_env: dict[str, Any] = Field(
        default_factory=dict,
        description="Ray runtime_env merged into the one "
        "that ships the project to a cluster's workers (pipeline.cluster): pip, "
        "env_vars, py_modules, ...; not working_dir (the project is)",
    )
    num_cpus: int | None = Field(None, ge=1, description="CPUs of a local Ray instance (default: the machine's)")
    retry_errors: bool = Field(False, description="generate again the rows cached with status=error")
    progress: bool = Field(True, description="progress bars (--no-progress hides them)")

    @field_validator("cache", mode="before")
    @classmethod
    def _cache_text(cls, value: object) -> object:
        return location_text(value)

    @field_validator("kinds")
    @classmethod
    def _known_kinds(cls, names: list[str]) -> list[str]:
        for kind in names:
            kinds.PLANNERS.get(kind)  # unknown: "did you mean" error naming the registered kinds
        if not names:
            msg = "PriorsConfig.kinds: give at least one prior kind"
            raise ValueError(msg)
        return names

    @field_validator("kind_splits", mode="before")
    @classmethod
    def _split_lists(cls, value: object) -> object:
        """``KIND=val,test`` on a command line arrives as the text ``val,test``."""
        if isinstance(value, dict):
            return {
                k: [p for p in v.replace(" ", "").split(",") if p] if isinstance(v, str) else v
                for k, v in value.items()
            }
        return value

    @model_validator(mode="after")
    def _kind_splits_known(self) -> PriorsConfig:
        for kind, splits in self.kind_splits.items():
            if kind not in self.kinds:
                msg = f"PriorsConfig.kind_splits: '{kind}' is not a kind of this run (kinds: {', '.join(self.kinds)})"
                raise ValueError(msg)
            if not splits:
                msg = f"PriorsConfig.kind_splits: '{kind}' names no split"
                raise ValueError(msg)
        return self

    @model_validator(mode="after")
    def _key_frame_bounds(self) -> PriorsConfig:
        if self.key_frame_min > self.key_frame_max:
            msg = f"PriorsConfig.key_frame_min ({self.key_frame_min}) is above key_frame_max ({self.key_frame_max})"
            raise ValueError(msg)
        return self

    @field_validator("max_new_tokens_by_kind")
    @classmethod
    def _known_token_kinds(cls, by_kind: dict[str, int]) -> dict[str, int]:
        for kind, n in by_kind.items():
            if kind not in kinds.PLANNERS or n < 1:
                msg = (
                    f"PriorsConfig.max_new_tokens_by_kind: '{kind}': {n}; need a prior kind "
                    f"({', '.join(kinds.kind_names())}) and a count >= 1"
                )
                raise ValueError(msg)
        return by_kind

    def sampling_for(self, kind: str) -> SamplingConfig:
        """The kind's sampling: ``sampling`` with its ``max_new_tokens_by_kind`` entry, if any."""
        n = self.max_new_tokens_by_kind.get(kind)
        return self.sampling if n is None else self.sampling.model_copy(update={"max_new_tokens": n})

    def prompt_for(self, kind: str) -> PromptChoice:
        """The kind's prompt: ``prompts[kind]`` when set, else its planner's default."""
        return self.prompts.get(kind) or PromptChoice(id=kinds.PLANNERS.get(kind).prompt)

    def manifest_path(self) -> Path:
        return self.manifest or Path("manifests") / f"{self.dataset}.parquet"

    def resolved_ray_address(self) -> str | None:
        return self.ray_address or os.environ.get("RAY_ADDRESS") or None
