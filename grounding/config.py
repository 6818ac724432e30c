"""Training configuration: pydantic defaults, then a YAML file from ``configs/``, then dotted CLI
overrides (``--optim.lr 1e-3 --model.alpha 0.3``), each layer over the one before.

The ``model`` section holds ``name`` plus that model's own options; those are validated by the
model's ``config_cls`` from ``grounding.models.MODELS``. Every validation failure is a
``ValueError`` that names the dotted field and, for unknown fields, the allowed ones.
"""

from __future__ import annotations

import difflib
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from grounding.data.targets import TargetConfig

_STRICT = ConfigDict(extra="forbid", validate_assignment=True)


class DataConfig(BaseModel):
    model_config = _STRICT
    manifest: Path | None = None  # manifests/<dataset>.parquet (``--priors``)
    features: list[str] = Field(default_factory=list)  # one or more stores, concatenated
    store: str = "auto"  # npz / hdf5 / npy / auto (guessed from each path)
    cache_dir: Path | None = None  # overrides the manifest's cache_dir
    max_len: int = Field(128, ge=1)  # TEA: max-pool videos to 128 snippets
    train_split: str = "train"
    val_split: str = "val"  # best-checkpoint selection; never the test split
    test_split: str = "test"
    num_workers: int = Field(0, ge=0)
    targets: TargetConfig = Field(default_factory=TargetConfig)  # start/end candidate sets (Eq. 15)


class ModelConfig(BaseModel):
    """``name`` plus the options of that model (validated by its ``config_cls``)."""

    model_config = ConfigDict(extra="allow")
    name: str = "span"

    @model_validator(mode="after")
    def _check_options(self) -> ModelConfig:
        from grounding.models import MODELS

        spec = MODELS.get(self.name)
        try:
            spec.config_cls.model_validate(self.options())
        except ValidationError as err:
            raise ValueError(f"model '{self.name}': " + _explain(err, "model", spec.config_cls)) from None
        return self

    def options(self) -> dict[str, Any]:
        return dict(self.model_extra or {})

    def validated(self) -> BaseModel:
        from grounding.models import MODELS

        return MODELS.get(self.name).config_cls.model_validate(self.options())


class OptimConfig(BaseModel):
    model_config = _STRICT
    lr: float = Field(5e-4, gt=0)  # TEA: Adam, 5e-4, linear decay
    weight_decay: float = Field(0.0, ge=0)
    grad_clip: float = Field(1.0, ge=0)  # 0 disables clipping
    batch_size: int = Field(16, ge=1)
    epochs: int = Field(100, ge=1)
    warmup_steps: int = Field(0, ge=0)
    schedule: Literal["linear", "constant"] = "linear"


class TrainConfig(BaseModel):
    model_config = _STRICT
    data: DataConfig = Field(default_factory=DataConfig)
    model: ModelConfig = Field(default_factory=ModelConfig)
    optim: OptimConfig = Field(default_factory=OptimConfig)
    seed: int = 0
    device: str = "auto"  # auto / cpu / cuda / cuda:1
    amp: bool = True  # bfloat16 autocast, used only on CUDA
    threads: int | None = None  # torch.set_num_threads on CPU; None keeps torch's default
    out_dir: Path | None = None  # run folder; None = runs/<model>-<manifest stem>
    eval_every: int = Field(1, ge=1)  # epochs between validation passes
    select_metric: str = "R1@0.5"  # validation metric that picks the best checkpoint
    topk: int = Field(5, ge=1)

    @model_validator(mode="after")
    def _never_select_on_test(self) -> TrainConfig:
        if self.data.val_split == self.data.test_split:
            msg = (f"data.val_split and data.test_split are both '{self.data.test_split}': the best checkpoint "
                   "is chosen on validation, never on test")
            raise ValueError(msg)
        return self


def run_dir(cfg: TrainConfig) -> Path:
    if cfg.out_dir is not None:
        return Path(cfg.out_dir)
    stem = Path(cfg.data.manifest).stem if cfg.data.manifest else "run"
    return Path("runs") / f"{cfg.model.name}-{stem}"


def _allowed(cls: type[BaseModel]) -> list[str]:
    return sorted(cls.model_fields)


def _explain(err: ValidationError, prefix: str, root: type[BaseModel]) -> str:
    lines = []
    for e in err.errors():
        path = [str(p) for p in e["loc"]]
        field = ".".join(([prefix] if prefix else []) + path)
        if e["type"] == "extra_forbidden":
            cls: Any = root
            for p in path[:-1]:
                ann = cls.model_fields[p].annotation if p in getattr(cls, "model_fields", {}) else None
                cls = ann if isinstance(ann, type) and issubclass(ann, BaseModel) else None
                if cls is None:
                    break
            allowed = _allowed(cls) if cls is not None else []
            close = difflib.get_close_matches(path[-1], allowed, n=1)
            hint = f"; did you mean '{close[0]}'?" if close else ""
            lines.append(f"unknown field '{field}'{hint} allowed: {', '.join(allowed)}")
        elif e["type"] == "value_error":
            lines.append(e["msg"].removeprefix("Value error, "))
        else:
            lines.append(f"field '{field}': {e['msg']} (got {e.get('input')!r})")
    return "; ".join(lines)


def _parse_value(text: str) -> Any:
    value = yaml.safe_load(text)
    if isinstance(value, str):
        try:
            return float(value) if any(c in value for c in ".eE") and value[0] in "+-.0123456789" else value
        except ValueError:
            return value
    return value


def parse_overrides(args: list[str]) -> dict[str, Any]:
    """``["--optim.lr", "1e-3", "--model.alpha=0.3"]`` -> ``{"optim": {"lr": 0.001}, ...}``."""
    out: dict[str, Any] = {}
    i = 0
    while i < len(args):
        arg = args[i]
        if not arg.startswith("--"):
            msg = f"override '{arg}' must look like --section.field VALUE or --section.field=VALUE"
            raise ValueError(msg)
        key, eq, value = arg[2:].partition("=")
        if not eq:
            if i + 1 >= len(args):
                msg = f"override --{key} has no value"
                raise ValueError(msg)
            value, i = args[i + 1], i + 1
        node = out
        *parents, leaf = key.replace("-", "_").split(".")
        for p in parents:
            node = node.setdefault(p, {})
        node[leaf] = _parse_value(value)
        i += 1
    return out


def merge(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for k, v in over.items():
        out[k] = merge(out[k], v) if isinstance(v, dict) and isinstance(out.get(k), dict) else v
    return out


def build_config(values: dict[str, Any], source: str = "config") -> TrainConfig:
    try:
        return TrainConfig.model_validate(values)
    except ValidationError as err:
        raise ValueError(f"invalid config ({source}): " + _explain(err, "", TrainConfig)) from None


def load_config(path: str | Path | None = None, overrides: list[str] | dict[str, Any] | None = None) -> TrainConfig:
    """Defaults <- YAML ``path`` <- ``overrides`` (dotted CLI flags or a nested dict)."""
    values: dict[str, Any] = {}
    source = "defaults"
    if path is not None:
        path = Path(path)
        if not path.is_file():
            msg = f"config file {path} does not exist (shipped configs are in configs/)"
            raise FileNotFoundError(msg)
        values = yaml.safe_load(path.read_text()) or {}
        if not isinstance(values, dict):
            msg = f"config file {path}: the top level must be a mapping, got {type(values).__name__}"
            raise ValueError(msg)
        source = str(path)
    if overrides:
        over = parse_overrides(overrides) if isinstance(overrides, list) else overrides
        values = merge(values, over)
    return build_config(values, source)


def config_dict(cfg: TrainConfig) -> dict[str, Any]:
    """JSON-ready dict (paths as strings), what a checkpoint stores."""
    return cfg.model_dump(mode="json")
