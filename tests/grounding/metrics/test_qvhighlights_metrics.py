"""QVHighlights suite: hand-computed buckets and highlights, and golden parity with the official
evaluation on ../shared/data/eval_golden (every key, to the printed precision, in order)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from grounding.metrics.highlight import clip_scores, highlight_metrics
from grounding.metrics.qvhighlights import eval_submission
from tests.conftest import shared_path


def _gt(qid: int, windows: list[list[float]], **extra: Any) -> dict[str, Any]:
    return {"qid": qid, "vid": f"v{qid}", "duration": 150, "relevant_windows": windows, **extra}


def _pred(qid: int, windows: list[list[float]], **extra: Any) -> dict[str, Any]:
    return {"qid": qid, "query": "q", "vid": f"v{qid}", "pred_relevant_windows": windows, **extra}


def test_length_buckets_and_bounds() -> None:
    gt = [_gt(1, [[0, 10]]), _gt(2, [[0, 20]]), _gt(3, [[0, 30]]), _gt(4, [[0, 60]])]
    sub = [_pred(1, [[0, 10, 1.0]]), _pred(2, [[50, 70, 1.0]]), _pred(3, [[0, 30, 1.0]]), _pred(4, [[0, 60, 1.0]])]
    out = eval_submission(sub, gt)
    assert out["short"]["MR-R1"]["0.5"] == 100.0  # length 10 is "short": (0, 10]
    assert out["middle"]["MR-R1"]["0.5"] == 50.0  # lengths 20 (miss) and 30: (10, 30]
    assert out["long"]["MR-mAP"]["average"] == 100.0
    assert out["full"]["MR-R1"]["0.5"] == 75.0
    assert out["full"]["MR-mIoU"] == 75.0
    assert out["brief"]["MR-middle-mAP"] == 50.0
    assert list(out) == ["brief", "full", "long", "middle", "short"]


def test_query_keeps_only_its_windows_in_the_bucket_and_r1_uses_first_listed() -> None:
    gt = [_gt(1, [[0, 4], [50, 100]])]
    # the first listed window is used for R1 even when a later one scores higher (as the official)
    sub = [_pred(1, [[50, 100, 0.1], [0, 4, 0.9]])]
    out = eval_submission(sub, gt)
    assert out["full"]["MR-R1"]["0.9"] == 100.0
    assert out["short"]["MR-R1"]["0.5"] == 0.0  # short keeps only [0, 4]: [50, 100] misses it
    assert out["short"]["MR-mAP"]["0.5"] == 100.0  # mAP sorts by score: [0, 4] comes first


def test_missing_prediction_and_empty_bucket_score_zero() -> None:
    out = eval_submission([_pred(1, [[0, 60, 1.0]])], [_gt(1, [[0, 60]]), _gt(2, [[0, 60]])])
    assert out["full"]["MR-R1"]["0.7"] == 50.0
    assert out["full"]["MR-mAP"]["average"] == 50.0
    assert out["short"]["MR-mAP"] == {**{k: 0.0 for k in out["full"]["MR-mAP"]}}


def test_moment_detr_key_set() -> None:
    out = eval_submission([_pred(1, [[0, 60, 1.0]])], [_gt(1, [[0, 60]])], keys="moment_detr")
    assert "MR-mIoU" not in out["full"]
    assert list(out["full"]["MR-R1"])[0] == "0.5"
    assert "MR-full-R1@0.3" not in out["brief"]


def test_clip_scores_layout_and_range_error() -> None:
    table = clip_scores(7, [0, 2], [[1, 2, 3], [4, 4, 4]])
    np.testing.assert_array_equal(table, [[1, 2, 3], [0, 0, 0], [4, 4, 4]])
    with pytest.raises(ValueError, match=r"relevant_clip_ids must lie in \[0, 3\)"):
        clip_scores(7, [3], [[1, 1, 1]])


def test_highlight_metrics_hand_computed() -> None:
    gt = clip_scores(6, [0, 1, 2], [[4, 0, 0], [0, 3, 0], [0, 0, 2]])
    out = highlight_metrics([[0.1, 0.9, 0.5]], [gt])
    # ranking: clip 1, clip 2, clip 0. Fair: APs 1/3, 1, 1/2. Good: 1/3, 1, 0. VeryGood: 1/3, 0, 0.
    assert out == {
        "HL-min-Fair": {"HL-mAP": 61.11, "HL-Hit1": 100.0},
        "HL-min-Good": {"HL-mAP": 44.44, "HL-Hit1": 100.0},
        "HL-min-VeryGood": {"HL-mAP": 11.11, "HL-Hit1": 0.0},
    }


def test_highlight_top_clip_past_the_end_misses_and_no_prediction_scores_zero() -> None:
    gt = clip_scores(6, [0, 1, 2], [[4, 4, 4]] * 3)
    out = highlight_metrics([[0.0, 0.0, 0.0, 0.0, 1.0], None], [gt, gt])
    assert out["HL-min-Fair"]["HL-Hit1"] == 0.0
    assert out["HL-min-Fair"]["HL-mAP"] == 50.0  # all-positive columns: AP 1; the missing query: 0


def _jsonl(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


GOLDEN = [
    ("moment_detr_sample_val_preds.jsonl", "moment_detr_sample_val_preds_metrics_raw.json", "moment_detr"),
    ("cgdetr_best_hl_val_preds.jsonl", "cgdetr_best_hl_val_preds_metrics.json", "extended"),
]


@pytest.mark.shared_data
@pytest.mark.parametrize(("preds", "metrics", "keys"), GOLDEN)
def test_golden_parity_every_key(preds: str, metrics: str, keys: str) -> None:
    gt = _jsonl(shared_path("qvhighlights", "highlight_val_release.jsonl"))
    submission = _jsonl(shared_path("eval_golden", preds))
    expected = json.loads(shared_path("eval_golden", metrics).read_text())
    ours = eval_submission(submission, gt, keys=keys)  # type: ignore[arg-type]
    assert ours == expected
    assert json.dumps(ours) == json.dumps(expected)  # same keys in the same order
