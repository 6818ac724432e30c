"""bench/detr_epoch.py's model list (shared with bench/detr_inference.py): ``all`` is every
trainable model but the spatio-temporal ones, and a box model asked for by name is named and left
out instead of failing on Charades-STA-shaped arrays."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from grounding.models import MODELS

BENCH = Path(__file__).resolve().parents[2] / "bench"


@pytest.fixture(scope="module")
def charades_shape_models():
    sys.path.insert(0, str(BENCH))
    try:
        from detr_epoch import charades_shape_models

        yield charades_shape_models
    finally:
        sys.path.remove(str(BENCH))


def test_all_is_every_trainable_model_without_boxes(charades_shape_models, capsys) -> None:
    names = charades_shape_models(["all"])
    boxes = [m for m in MODELS.names() if MODELS.get(m).trainable and MODELS.get(m).model_cls.boxes]
    assert boxes == ["bridge_stg"]
    assert names == [m for m in MODELS.names() if MODELS.get(m).trainable and m not in boxes]
    assert {"span", "tea", "qd_detr", "mesm"} <= set(names)
    assert "bridge_stg: spatio-temporal" in capsys.readouterr().out


def test_a_box_model_by_name_is_named_and_left_out(charades_shape_models, capsys) -> None:
    requested = ["mesm", "bridge_stg", "span"]
    assert charades_shape_models(requested) == ["mesm", "span"]
    assert requested == ["mesm", "bridge_stg", "span"]  # the caller's list is not changed
    assert "see bench/bridge_stg.py" in capsys.readouterr().out
