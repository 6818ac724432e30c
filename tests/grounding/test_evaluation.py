"""evaluate_prediction_files / evaluate_predictions / format_metrics: suite choice, per-split
reports, the missing-prediction policy, file errors, and the golden files end to end."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from grounding.evaluation import (
    COLLAPSED,
    collapsed,
    evaluate_prediction_files,
    evaluate_predictions,
    format_metrics,
)
from tests.conftest import shared_path


def _write(path: Path, rows: list[dict[str, Any]]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


GT = [
    {"qid": 1, "vid": "a", "duration": 30, "relevant_windows": [[0, 10]], "split": "test_ood"},
    {"qid": 2, "vid": "b", "duration": 30, "relevant_windows": [[5, 15]], "split": "test_iid"},
    {"qid": 3, "vid": "c", "duration": 30, "relevant_windows": [[10, 20]], "split": "test_ood"},
]
PREDS = [
    {"qid": 1, "pred_relevant_windows": [[0, 10, 0.9], [20, 30, 0.1]]},
    {"qid": 2, "pred_relevant_windows": [[0, 5, 0.8], [5, 15, 0.7]]},
    {"qid": 99, "pred_relevant_windows": [[0, 1, 1.0]]},
]


def test_temporal_suite_with_splits_and_missing_policy(tmp_path: Path) -> None:
    out = evaluate_prediction_files(_write(tmp_path / "p.jsonl", PREDS), _write(tmp_path / "g.jsonl", GT))
    assert out["suite"] == "temporal"
    assert out["counts"] == {
        "gt": 3,
        "predictions": 3,
        "missing_predictions": 1,
        "extra_predictions": 1,
        "unsorted_predictions": 0,
    }
    assert out["missing_qids"] == [3]
    # q1 hit (IoU 1); q2 top-1 misses (IoU 0), top-2 hits; q3 missing: scored as a miss
    metrics = out["metrics"]
    assert (metrics["R1@0.5"], metrics["R5@0.5"], metrics["mIoU"], metrics["n"]) == (33.33, 66.67, 33.33, 3)
    assert list(out["splits"]) == ["test_iid", "test_ood"]
    assert out["splits"]["test_iid"]["R5@0.7"] == 100.0
    assert out["splits"]["test_ood"]["n"] == 2
    assert out["splits"]["test_ood"]["R1@0.3"] == 50.0
    text = format_metrics(out)
    assert "WARNING: 1 GT queries have no prediction (scored 0): 3" in text
    assert "1 predictions for qids not in the GT were ignored" in text
    assert "test_ood" in text and "R1@0.5" in text
    json.dumps(out)  # the --json output must serialise


def test_splits_map_overrides_and_suite_can_be_forced() -> None:
    gt = [{k: v for k, v in row.items() if k != "split"} for row in GT]
    out = evaluate_predictions(PREDS, gt, splits={1: "novel_word", "2": "novel_word", 3: "test_trivial"})
    assert list(out["splits"]) == ["test_trivial", "novel_word"]
    assert out["splits"]["novel_word"]["n"] == 2
    forced = evaluate_predictions(PREDS, gt, suite="qvhighlights")
    assert forced["suite"] == "qvhighlights" and "HL-min-Fair" not in forced["metrics"]
    assert "splits" not in forced
    with pytest.raises(ValueError, match="unknown suite 'x'"):
        evaluate_predictions(PREDS, gt, suite="x")  # type: ignore[arg-type]


def test_qvhighlights_suite_chosen_when_saliency_present() -> None:
    gt = [
        {
            "qid": 7,
            "duration": 6,
            "relevant_windows": [[0, 4]],
            "relevant_clip_ids": [0, 1],
            "saliency_scores": [[4, 4, 4], [2, 2, 2]],
        }
    ]
    preds = [{"qid": 7, "pred_relevant_windows": [[0, 4, 1.0]], "pred_saliency_scores": [0.9, 0.1, 0.0]}]
    out = evaluate_predictions(preds, gt)
    assert out["suite"] == "qvhighlights"
    assert out["metrics"]["brief"]["HL-min-VeryGood-Hit1"] == 100.0
    assert out["metrics"]["brief"]["MR-short-mAP"] == 100.0
    assert "HL-min-VeryGood-mAP" in format_metrics(out)


def test_errors_name_the_file_line_and_field(tmp_path: Path) -> None:
    gt = _write(tmp_path / "g.jsonl", GT)
    bad = _write(tmp_path / "p.jsonl", [PREDS[0], {"qid": 2, "pred_relevant_windows": "oops"}])
    with pytest.raises(ValueError, match=r"p.jsonl:2 \(qid 2\): field 'pred_relevant_windows'"):
        evaluate_prediction_files(bad, gt)
    dup = _write(tmp_path / "g2.jsonl", [GT[0], GT[0]])
    with pytest.raises(ValueError, match=r"g2.jsonl:2: duplicate qid 1"):
        evaluate_prediction_files(tmp_path / "p.jsonl", dup)
    with pytest.raises(ValueError, match=r"predictions\[0\] \(qid 1\): field 'pred_relevant_windows'"):
        evaluate_predictions([{"qid": 1}], GT)
    out_of_range = [
        {
            "qid": 5,
            "duration": 4,
            "relevant_windows": [[0, 2]],
            "relevant_clip_ids": [9],
            "saliency_scores": [[1, 1, 1]],
        }
    ]
    with pytest.raises(ValueError, match=r"ground truth qid 5: relevant_clip_ids must lie in \[0, 2\)"):
        evaluate_predictions([{"qid": 5, "pred_relevant_windows": [], "pred_saliency_scores": [1.0]}], out_of_range)


def test_one_window_for_every_query_of_a_video_is_diagnosed_and_warned() -> None:
    """A constant predictor can score: here it hits 2 of 4 queries. The diagnostics say its queries
    share a window (100 % repeats) and the report warns; varied answers give 0 and no warning."""
    gt = [
        {"qid": i, "vid": v, "duration": 30, "relevant_windows": [w]}
        for i, (v, w) in enumerate([("a", [0, 10]), ("a", [15, 25]), ("b", [0, 10]), ("b", [20, 30])])
    ]
    constant = [{"qid": g["qid"], "pred_relevant_windows": [[0, 10, 1.0]]} for g in gt]
    out = evaluate_predictions(constant, gt)
    assert out["metrics"]["R1@0.5"] == 50.0 and out["diagnostics"] == {"same_window": 100.0}
    assert "WARNING: the queries of a video get the same top-1 window (100% repeats)" in format_metrics(out)
    varied = [{"qid": g["qid"], "pred_relevant_windows": [g["relevant_windows"][0] + [1.0]]} for g in gt]
    out = evaluate_predictions(varied, gt)
    assert out["diagnostics"] == {"same_window": 0.0} and "same top-1 window" not in format_metrics(out)


def test_collapsed_is_strictly_above_the_threshold_and_none_is_not_measured() -> None:
    """The one rule the report, the demo's gate and grounding-train's warning share."""
    assert collapsed(COLLAPSED + 0.01) and collapsed(100.0)
    assert not collapsed(COLLAPSED) and not collapsed(0.0) and not collapsed(None)


@pytest.mark.shared_data
@pytest.mark.parametrize("preds", ["cgdetr_best_hl_val_preds.jsonl", "moment_detr_sample_val_preds.jsonl"])
def test_published_models_are_far_from_the_constant_threshold(preds: str) -> None:
    """Official QVHighlights val predictions of CG-DETR and Moment-DETR repeat a top-1 window across
    a video's queries 6-10 % of the time (its ground truth 19 %: some queries share a moment), far
    under the 50 % at which the report calls a prediction set a constant."""
    out = evaluate_prediction_files(
        shared_path("eval_golden", preds), shared_path("qvhighlights", "highlight_val_release.jsonl")
    )
    assert 0.0 < out["diagnostics"]["same_window"] < 15.0
    assert "same top-1 window" not in format_metrics(out)


@pytest.mark.shared_data
def test_golden_file_end_to_end() -> None:
    out = evaluate_prediction_files(
        shared_path("eval_golden", "cgdetr_best_hl_val_preds.jsonl"),
        shared_path("qvhighlights", "highlight_val_release.jsonl"),
    )
    expected = json.loads(shared_path("eval_golden", "cgdetr_best_hl_val_preds_metrics.json").read_text())
    assert out["metrics"] == expected
    assert out["counts"]["missing_predictions"] == 0
