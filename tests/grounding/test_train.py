from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest
from safetensors.torch import load_file

from grounding.config import load_config
from grounding.train import fit
from tests.grounding.fixtures import build_tiny_corpus


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory):  # noqa: ANN201
    return build_tiny_corpus(tmp_path_factory.mktemp("tiny"), n_videos=6, queries_per_video=3)


def _cfg(corpus, out: Path, model: str = "span", epochs: int = 3, **extra: object):  # noqa: ANN001, ANN202
    over = {
        "data": {"manifest": str(corpus.manifest), "features": [str(corpus.features)], "max_len": 16},
        "model": {"name": model, "hidden": 16, "heads": 2, **extra},
        "optim": {"batch_size": 4, "epochs": epochs, "lr": 1e-3},
        "out_dir": str(out),
        "device": "cpu",
        "seed": 3,
    }
    return load_config(None, over)


@pytest.mark.parametrize("model", ["span", "tea"])
def test_fit_writes_checkpoints_and_logs(corpus, tmp_path: Path, model: str) -> None:  # noqa: ANN001
    result = fit(_cfg(corpus, tmp_path / model, model, epochs=2), progress=False)
    run = tmp_path / model
    assert len(result.history) == 2
    assert all(np.isfinite(h["step_losses"]).all() for h in result.history)
    for sub in ("best", "last"):
        info = json.loads((run / sub / "checkpoint.json").read_text())
        assert info["config"]["model"]["name"] == model
        assert info["model_args"]["video_dim"] == corpus.video_dim and info["model_args"]["text_dim"] == corpus.text_dim
        assert load_file(run / sub / "model.safetensors")
    assert (run / "last" / "optimizer.pt").is_file()
    rows = list(csv.DictReader((run / "log.csv").open()))
    assert {r["split"] for r in rows} == {"train", "val"} and any(r["metric"] == "R1@0.5" for r in rows)
    repeats = [float(r["value"]) for r in rows if r["split"] == "val" and r["metric"] == "same_window"]
    assert len(repeats) == 2 and all(0.0 <= v <= 100.0 for v in repeats)  # collapse shows per epoch
    assert any((run / "tb").iterdir())


def test_best_checkpoint_is_chosen_on_validation(corpus, tmp_path: Path) -> None:  # noqa: ANN001
    result = fit(_cfg(corpus, tmp_path, epochs=4), progress=False)
    values = [h["val"]["R1@0.5"] for h in result.history]
    best_epoch = int(np.argmax(values))  # first maximum, as fit keeps the first
    meta = json.loads((tmp_path / "best" / "checkpoint.json").read_text())["meta"]
    assert meta["epoch"] == best_epoch == result.best["epoch"]
    assert meta["best"]["R1@0.5"] == max(values)
    assert all("test" not in str(k) for h in result.history for k in h)


def test_cpu_training_is_deterministic(corpus, tmp_path: Path) -> None:  # noqa: ANN001
    a = fit(_cfg(corpus, tmp_path / "a", "tea", epochs=1), progress=False)
    b = fit(_cfg(corpus, tmp_path / "b", "tea", epochs=1), progress=False)
    assert a.history[0]["step_losses"] == b.history[0]["step_losses"]


def test_cpu_autocast_only_when_asked(corpus, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:  # noqa: ANN001
    """``amp_cpu`` runs the training forward under bfloat16 autocast on CPU; by default it is float32."""
    import torch

    from grounding.models.span import SpanModel

    seen: list[bool] = []
    forward = SpanModel.forward

    def spy(self, batch):  # noqa: ANN001, ANN202
        seen.append(torch.is_autocast_enabled("cpu"))
        return forward(self, batch)

    monkeypatch.setattr(SpanModel, "forward", spy)
    fit(_cfg(corpus, tmp_path / "fp32", epochs=1), progress=False)
    assert seen and not any(seen)  # float32 throughout (training and validation)
    seen.clear()
    cfg = _cfg(corpus, tmp_path / "bf16", epochs=1).model_copy(update={"amp_cpu": True})
    result = fit(cfg, progress=False)
    assert any(seen) and not all(seen)  # the training steps; validation stays float32
    assert np.isfinite(result.history[0]["step_losses"]).all()


def test_resume_gives_identical_next_step_loss(corpus, tmp_path: Path) -> None:  # noqa: ANN001
    full = fit(_cfg(corpus, tmp_path / "full", "tea", epochs=3), progress=False)
    cut = _cfg(corpus, tmp_path / "cut", "tea", epochs=3)
    first = fit(cut, progress=False, stop_after=1)
    assert len(first.history) == 1
    assert first.history[0]["step_losses"] == full.history[0]["step_losses"]
    resumed = fit(cut, resume=True, progress=False)
    assert [h["epoch"] for h in resumed.history] == [1, 2]
    assert resumed.history[0]["step_losses"][0] == full.history[1]["step_losses"][0]
    assert resumed.history[-1]["step_losses"] == full.history[-1]["step_losses"]


def test_missing_manifest_is_named(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="data.manifest is not set"):
        fit(load_config(None, {"out_dir": str(tmp_path)}), progress=False)


@pytest.mark.slow
@pytest.mark.shared_data
def test_charades_sta_test_split_feeds_one_epoch(tmp_path: Path) -> None:
    """The real Charades-STA loader feeds the trainer: 3,720 test queries, synthetic 1024-d
    per-second features (max-pooled to at most 128 snippets), 384-d query vectors, one epoch."""
    from pipeline.datasets import DATASETS
    from tests.conftest import shared_path
    from tests.grounding.fixtures import build_corpus_from_annotations

    ann = DATASETS.get("charades_sta")(shared_path("charades_sta"))
    corpus = build_corpus_from_annotations(ann, tmp_path, splits=("test",))
    assert len(corpus.videos) > 1000
    cfg = load_config(
        None,
        {
            "data": {
                "manifest": str(corpus.manifest),
                "features": [str(corpus.features)],
                "train_split": "test",
                "val_split": "val",
                "test_split": "none",
            },
            "model": {"name": "span", "hidden": 32, "heads": 4},
            "optim": {"batch_size": 64, "epochs": 1},
            "out_dir": str(tmp_path / "run"),
            "device": "cpu",
            "threads": 1,
        },
    )
    result = fit(cfg, progress=False)
    losses = result.history[0]["step_losses"]
    assert len(losses) == -(-3720 // 64) and np.isfinite(losses).all()
    assert (tmp_path / "run" / "best" / "model.safetensors").is_file()


@pytest.mark.parametrize(("cap", "chosen"), [(None, 0), (50.0, 1), (10.0, 0)])
def test_select_max_repeats_skips_epochs_that_answer_a_video_alike(
    corpus,  # noqa: ANN001
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    cap: float | None,
    chosen: int,
) -> None:
    """Validation scripted per epoch: the best R1@0.5 (epoch 0) repeats one window for every query
    of a video. With a cap the best epoch under it wins (epoch 1, not the higher-scoring but also
    collapsed epoch 2); when no epoch qualifies the best score is kept, and the CLI warns."""
    import grounding.train as train
    from grounding.cli import collapse_warning

    script = iter([(50.0, 100.0), (30.0, 20.0), (40.0, 90.0)])

    def scripted(*args, **kwargs):  # noqa: ANN002, ANN003, ANN202 - stands in for the validation pass
        r1, repeats = next(script)
        return {"R1@0.5": r1, "mIoU": r1, "same_window": repeats}, []

    monkeypatch.setattr(train, "evaluate", scripted)
    cfg = _cfg(corpus, tmp_path, epochs=3).model_copy(update={"select_max_repeats": cap})
    result = fit(cfg, progress=False)
    meta = json.loads((tmp_path / "best" / "checkpoint.json").read_text())["meta"]
    assert meta["epoch"] == chosen == result.best["epoch"]
    warning = collapse_warning(result.best, cap)
    assert bool(warning) == (chosen == 0)
    if chosen == 0:
        assert "repeats its top-1 window across a video's validation queries 100%" in warning
        assert ("no validation epoch was at or under --select-max-repeats 10" in warning) == (cap is not None)
