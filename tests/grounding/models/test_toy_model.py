"""A model that is not span-shaped needs one file plus its registration: the test-only
``toy_centre_width`` (a (centre, width) regression head, its own label field, a query-level input)
is trained one step, evaluated, written as community predictions, scored, predicted and plotted
through the product's code, with no edit to training, inference, prediction, plot or writer."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from grounding.config import load_config
from grounding.data.dataset import GroundingDataset, open_video_store, read_manifest
from grounding.evaluation import evaluate_prediction_files
from grounding.plot import plot_prediction
from grounding.predict import Predictor
from grounding.run_eval import evaluate_checkpoint, ground_truth_rows, write_jsonl
from grounding.train import fit
from tests.grounding.fixtures import build_tiny_corpus
from tests.grounding.models.toy_centre_width import NAME


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory):  # noqa: ANN201
    root = tmp_path_factory.mktemp("toy")
    corpus = build_tiny_corpus(root, n_videos=3, text_dim=384, encoder="all-MiniLM-L6-v2")  # new texts embed
    cfg = load_config(
        None,
        {
            "data": {"manifest": str(corpus.manifest), "features": [str(corpus.features)]},
            "model": {"name": NAME, "hidden": 8},
            "optim": {"batch_size": 2, "epochs": 1},
            "out_dir": str(root / "run"),
            "device": "cpu",
        },
    )
    result = fit(cfg, progress=False)
    return corpus, result


def test_trains_evaluates_writes_and_scores(trained, tmp_path: Path) -> None:  # noqa: ANN001
    corpus, result = trained
    assert len(result.history) == 1 and np.isfinite(result.history[0]["loss/total"])
    assert result.history[0]["step_losses"] and "loss/l1" in result.history[0]
    res = evaluate_checkpoint(result.out_dir, "test", tmp_path / "preds.jsonl")
    rows = [json.loads(line) for line in (tmp_path / "preds.jsonl").read_text().splitlines()]
    assert len(rows) == res["counts"]["gt"] == 2 and res["counts"]["missing_predictions"] == 0
    for row in rows:
        ((s, e, score),) = row["pred_relevant_windows"]
        assert 0.0 <= s <= e <= corpus.videos[row["vid"]] and score == 1.0
    info = read_manifest(corpus.manifest)
    gt = [g for g in ground_truth_rows([r for r in info.rows if r["split"] == "test"])]
    write_jsonl(tmp_path / "gt.jsonl", gt)
    scored = evaluate_prediction_files(tmp_path / "preds.jsonl", tmp_path / "gt.jsonl")
    assert scored["metrics"] == res["metrics"] and 0.0 <= scored["metrics"]["mIoU"] <= 100.0


def test_predictor_and_plot(trained, tmp_path: Path) -> None:  # noqa: ANN001
    corpus, result = trained
    predictor = Predictor.from_checkpoint(result.out_dir)
    (window,) = predictor.predict("vid01", "an unseen sentence about vid01")
    assert 0.0 <= window[0] <= window[1] <= corpus.videos["vid01"]
    pred = predictor.explain("vid01", "person does thing 0 in vid01")
    assert set(pred.curves) == {"attention"} and np.isclose(pred.curves["attention"].sum(), 1.0, atol=1e-5)
    png = plot_prediction(pred, tmp_path)
    assert png.read_bytes()[:4] == b"\x89PNG"


def test_query_level_fields_are_those_of_each_query(trained) -> None:  # noqa: ANN001
    """Regression: Predictor used to copy the first manifest query's item for every query of a
    video, so a query-level field (context: the other queries of the video) was wrong for all
    but the first."""
    corpus, result = trained
    predictor = Predictor.from_checkpoint(result.out_dir)
    info = read_manifest(corpus.manifest)
    ds = GroundingDataset(
        info, None, open_video_store(info, [str(corpus.features)]), max_len=128, fields=predictor.model.required_keys
    )
    rows = [r for r in ds.rows if r["video_id"] == "vid01"]
    assert len(rows) == 2
    items = predictor._items([("vid01", r["query"]) for r in rows])
    for row, item in zip(rows, items, strict=True):
        expected = ds.item(row)
        assert item["query_id"] == row["query_id"]
        np.testing.assert_array_equal(item["context"], expected["context"])
        np.testing.assert_array_equal(item["query_tokens"], expected["query_tokens"])
    assert not np.array_equal(items[0]["context"], items[1]["context"])
    both = predictor.predict_batch([("vid01", r["query"]) for r in rows])
    alone = [predictor.predict("vid01", r["query"]) for r in rows]
    np.testing.assert_allclose(both, alone, atol=1e-6)
