from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from grounding.config import TrainConfig, load_config
from grounding.models import MODELS
from groundwork.settings import parse_flags

CONFIGS = sorted((Path(__file__).resolve().parents[2] / "configs").glob("*_*.yaml"))  # <method>_<dataset>.yaml


def test_there_are_shipped_configs() -> None:
    assert {p.stem for p in CONFIGS} >= {"span_demo", "tea_demo", "span_charades", "tea_charades", "tea_activitynet"}


@pytest.mark.parametrize("path", CONFIGS, ids=[p.stem for p in CONFIGS])
def test_every_shipped_config_loads(path: Path) -> None:
    cfg = load_config(path)
    assert cfg.model.name in MODELS
    assert path.stem.startswith(f"{cfg.model.name}_")  # <method>_<dataset>; a method name may hold "_"
    assert cfg.data.val_split != cfg.data.test_split
    model_cfg = cfg.model.validated()
    assert type(model_cfg) is MODELS.get(cfg.model.name).config_cls


def test_defaults_follow_tea_recipe() -> None:
    cfg = TrainConfig()
    assert (cfg.optim.lr, cfg.optim.grad_clip, cfg.optim.batch_size, cfg.data.max_len) == (5e-4, 1.0, 16, 128)
    assert cfg.optim.schedule == "linear"


def test_dotted_overrides_layer_over_yaml() -> None:
    shipped = yaml.safe_load(Path("configs/tea_demo.yaml").read_text())
    assert shipped["optim"]["lr"] != pytest.approx(2e-3)
    cfg = load_config(
        Path("configs/tea_demo.yaml"),
        ["--optim.lr", "2e-3", "--model.alpha=0.3", "--data.features", "[a, b]", "--seed", "7"],
    )
    assert cfg.optim.lr == pytest.approx(2e-3)
    assert cfg.model.options()["alpha"] == pytest.approx(0.3)
    assert cfg.model.validated().alpha == pytest.approx(0.3)
    assert cfg.data.features == ["a", "b"] and cfg.seed == 7
    assert cfg.optim.epochs == shipped["optim"]["epochs"]  # from the YAML, untouched
    assert parse_flags(["--optim.batch-size", "8"], TrainConfig) == {"optim": {"batch_size": 8}}


def test_unknown_field_names_field_and_allowed_values() -> None:
    with pytest.raises(ValueError, match=r"unknown field 'optim.lrr'; did you mean 'lr'\? allowed: .*batch_size"):
        load_config(None, ["--optim.lrr", "1"])
    with pytest.raises(ValueError, match=r"unknown field 'data.max_length'; did you mean 'max_len'"):
        load_config(None, {"data": {"max_length": 3}})


def test_model_options_are_validated_by_the_model_config() -> None:
    with pytest.raises(ValueError, match=r"model 'tea': unknown field 'model.alhpa'; did you mean 'alpha'"):
        load_config(None, ["--model.name", "tea", "--model.alhpa", "0.3"])
    with pytest.raises(ValueError, match=r"model 'tea': field 'model.merge': Input should be 'concat_mlp'"):
        load_config(None, ["--model.name", "tea", "--model.merge", "multiply"])
    with pytest.raises(ValueError, match=r"unknown model 'tee'; did you mean 'tea'"):
        load_config(None, ["--model.name", "tee"])


def test_bad_values_and_files_are_named(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=r"field 'optim.lr'"):
        load_config(None, ["--optim.lr", "-1"])
    with pytest.raises(ValueError, match="never on test"):
        load_config(None, ["--data.val_split", "test"])
    with pytest.raises(FileNotFoundError, match="does not exist"):
        load_config(tmp_path / "absent.yaml")
    (tmp_path / "list.yaml").write_text("- 1\n- 2\n")
    with pytest.raises(ValueError, match="top level must be a mapping"):
        load_config(tmp_path / "list.yaml")
    with pytest.raises(ValueError, match="has no value"):
        parse_flags(["--optim.lr"], TrainConfig)
