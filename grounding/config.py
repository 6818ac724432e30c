"""Training configuration: pydantic defaults, then a YAML file from ``configs/``, then dotted CLI
overrides (``--optim.lr 1e-3 --model.alpha 0.3``), each layer over the one before, through the
parser every command shares (``groundwork.settings``).

The ``model`` section holds ``name`` plus that model's own options; those are validated by the
model's ``config_cls`` from ``grounding.models.MODELS``. Every validation failure is a
``ValueError`` that names the dotted field and, for unknown fields, the allowed ones.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from grounding.data.targets import TargetConfig
from groundwork.cache.fs import location_text
from groundwork.settings import build, explain, layered

_STRICT = ConfigDict(extra="forbid", validate_assignment=True)


class DataConfig(BaseModel):
    model_config = _STRICT
    manifest: Path | None = Field(None, description="the priors manifest, manifests/<dataset>.parquet (--priors)")
    features: list[str] = Field(
        default_factory=list,
        description="video feature stores, concatenated (npz / hdf5 / "
        "npy; a 'layout:' prefix forces one); empty: the pipeline's features in the cache",
    )
    store: str = Field("auto", description="feature layout of every store: npz / hdf5 / npy / auto (guessed)")
    cache_dir: str | None = Field(
        None, description="the priors cache instead of the manifest's: a path or a pyarrow URI (s3://bucket/prefix)"
    )
    max_len: int = Field(128, ge=1, description="max-pool longer videos to this many snippets (TEA: 128)")
    train_split: str = Field("train", description="split to train on")
    val_split: str = Field("val", description="split that picks the best checkpoint (never the test split)")
    test_split: str = Field("test", description="split grounding-eval scores by default")
    num_workers: int = Field(0, ge=0, description="DataLoader worker processes")
    video_cache_mb: float = Field(
        1024.0,
        ge=0.0,
        description="MB of each split's video-level fields (pooled features, aligned priors) kept "
        "in memory between epochs, least recently used out first; per DataLoader worker; 0 rebuilds "
        "them for every item",
    )
    l2_normalize_frames: bool = Field(
        False,
        description="L2-normalise every snippet of every feature store, store "
        "by store before concatenation (MESM's per-frame normalisation)",
    )
    temporal_endpoints: bool = Field(
        False,
        description="append the 2-d temporal endpoint feature (i / n, (i + 1) / n) "
        "to each snippet after pooling (Moment-DETR / QD-DETR / MESM 'tef'); the model's "
        "video_dim grows by 2",
    )
    temporal_differences: float = Field(
        0.0,
        ge=0.0,
        description="s > 0: append s * (v_i - v_{i-1}) and s * (v_{i+1} - v_i), the changes into and "
        "out of each snippet (of its features and, when on, its endpoints), after pooling "
        "(grounding.data.snippet_extras; demo DETRs: 10); the "
        "model's video_dim triples; 0: off",
    )
    video_batches: bool | None = Field(
        None,
        description="train on batches of whole videos with all their queries "
        "(grounding.data.samplers; optim.batch_size then counts videos, and the other "
        "videos give the negatives); unset: the model's choice (qd_detr / mesm on, "
        "span / tea off)",
    )
    share_videos: bool = Field(
        False,
        description="hold each video once in a training batch (collate_by_video), so a "
        "model that shares videos runs its query-independent video layers once per video, "
        "as inference does; most useful with video_batches",
    )
    targets: TargetConfig = Field(default_factory=TargetConfig)  # start/end candidate sets (Eq. 15)

    @field_validator("cache_dir", mode="before")
    @classmethod
    def _cache_text(cls, value: object) -> object:  # a Path given in code; URIs stay text
        return location_text(value)


class ModelConfig(BaseModel):
    """``name`` plus the options of that model (validated by its ``config_cls``)."""

    model_config = ConfigDict(extra="allow")
    name: str = Field("span", description="registered model (listed below with their own settings)")

    @model_validator(mode="after")
    def _check_options(self) -> ModelConfig:
        from grounding.models import MODELS

        spec = MODELS.get(self.name)
        try:
            spec.config_cls.model_validate(self.options())
        except ValidationError as err:
            raise ValueError(f"model '{self.name}': " + explain(err, "model", spec.config_cls)) from None
        return self

    def options(self) -> dict[str, Any]:
        return dict(self.model_extra or {})

    def validated(self) -> BaseModel:
        from grounding.models import MODELS

        return MODELS.get(self.name).config_cls.model_validate(self.options())


class OptimConfig(BaseModel):
    model_config = _STRICT
    lr: float = Field(5e-4, gt=0, description="learning rate (TEA: Adam, 5e-4, linear decay)")
    optimizer: Literal["adam", "adamw"] = Field(
        "adam", description="Adam (TEA) or AdamW (decoupled weight decay: QD-DETR / MESM, lr 2e-4, weight decay 1e-4)"
    )
    weight_decay: float = Field(0.0, ge=0, description="weight decay")
    grad_clip: float = Field(1.0, ge=0, description="gradient norm clipping; 0 disables it")
    batch_size: int = Field(16, ge=1, description="queries per step (videos per step with data.video_batches)")
    epochs: int = Field(100, ge=1, description="passes over the training split")
    warmup_steps: int = Field(0, ge=0, description="steps of linear learning-rate warm-up")
    schedule: Literal["linear", "constant"] = Field("linear", description="learning-rate schedule after warm-up")


class TrainConfig(BaseModel):
    model_config = _STRICT
    data: DataConfig = Field(default_factory=DataConfig)
    model: ModelConfig = Field(default_factory=ModelConfig)
    optim: OptimConfig = Field(default_factory=OptimConfig)
    seed: int = Field(0, description="seed of initialisation, shuffling and dropout")
    device: str = Field("auto", description="auto / cpu / cuda / cuda:1")
    amp: bool = Field(True, description="bfloat16 autocast of the training forward on CUDA")
    amp_cpu: bool = Field(
        False,
        description="bfloat16 autocast on CPU too (with amp): matmuls ~2.5x faster on CPUs with avx512_bf16 "
        "or AMX, and results move as on a GPU; off by default, so CPU runs stay float32 and reproducible",
    )
    threads: int | None = Field(None, description="torch threads on CPU (unset: torch's default)")
    out_dir: Path | None = Field(None, description="run folder (default runs/<model>-<manifest stem>)")
    eval_every: int = Field(1, ge=1, description="epochs between validation passes")
    select_metric: str = Field("R1@0.5", description="validation metric that picks the best checkpoint")
    select_max_repeats: float | None = Field(
        None,
        ge=0.0,
        le=100.0,
        description="pick the best checkpoint among validation epochs whose same_window (how often a top-1 "
        "window repeats across a video's queries, %) is at most this, so a checkpoint that answers every "
        "query of a video alike is chosen only when no epoch qualifies (unset: select_metric alone)",
    )
    topk: int = Field(5, ge=1, description="windows per query in predictions")

    @model_validator(mode="after")
    def _never_select_on_test(self) -> TrainConfig:
        if self.data.val_split == self.data.test_split:
            msg = (
                f"data.val_split and data.test_split are both '{self.data.test_split}': the best checkpoint "
                "is chosen on validation, never on test"
            )
            raise ValueError(msg)
        return self


def run_dir(cfg: TrainConfig) -> Path:
    if cfg.out_dir is not None:
        return Path(cfg.out_dir)
    stem = Path(cfg.data.manifest).stem if cfg.data.manifest else "run"
    return Path("runs") / f"{cfg.model.name}-{stem}"


def build_config(values: dict[str, Any], source: str = "config") -> TrainConfig:
    return build(TrainConfig, values, source)


def load_config(path: str | Path | None = None, overrides: list[str] | dict[str, Any] | None = None) -> TrainConfig:
    """Defaults <- YAML ``path`` <- ``overrides`` (dotted CLI flags or a nested dict)."""
    if isinstance(overrides, dict):
        return layered(TrainConfig, path, given=overrides)
    return layered(TrainConfig, path, flags=overrides or [])


def config_dict(cfg: TrainConfig) -> dict[str, Any]:
    """JSON-ready dict (paths as strings), what a checkpoint stores."""
    return cfg.model_dump(mode="json")
