from __future__ import annotations

import pytest

from grounding.models import MODELS, build_model
from grounding.models.span import SpanConfig, SpanModel
from grounding.models.tea import TeaConfig


def test_registry_has_span_and_tea_with_their_config_classes() -> None:
    assert {"span", "tea"} <= set(MODELS.names())
    assert MODELS.get("span").config_cls is SpanConfig and MODELS.get("span").model_cls is SpanModel
    assert issubclass(MODELS.get("tea").config_cls, SpanConfig)


def test_unknown_model_gets_did_you_mean() -> None:
    with pytest.raises(ValueError, match="unknown model 'tae'; did you mean 'tea'"):
        build_model("tae")


def test_paper_defaults() -> None:
    cfg = TeaConfig()
    assert (cfg.hidden, cfg.heads, cfg.dropout, cfg.highlight_weight, cfg.alpha) == (128, 8, 0.2, 5.0, 0.5)
    assert cfg.merge == "concat_mlp" and cfg.use_narrative_merge and cfg.use_paragraph_query
    assert cfg.use_guided_conv and cfg.use_highlight


@pytest.mark.parametrize(
    ("name", "fields", "match"),
    [
        ("span", {"hiden": 64}, "hiden"),
        ("span", {"hidden": 130}, "hidden=130 must be divisible by heads=8"),
        ("span", {"guided_kernel": 4}, "guided_kernel=4 must be odd"),
        ("span", {"dropout": 1.5}, "dropout"),
        ("tea", {"merge": "sum"}, r"merge[\s\S]*'concat_mlp', 'add' or 'attention'"),
        ("tea", {"alpha": -1.0}, "alpha"),
        ("span", {"alpha": 0.5}, "alpha"),  # a TEA field is unknown to span
    ],
)
def test_invalid_config_names_the_field(name: str, fields: dict, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        build_model(name, **fields)
