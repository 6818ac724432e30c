"""The report's data: one entry per query of the split with its ground truth, predictions, IoU,
curves and priors; the metrics equal the file-based evaluation's; videos linked relative to the
page; a given prediction file wins over the model pass."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest

from grounding.evaluation import evaluate_prediction_files
from grounding.report.gather import CURVE_STEPS, collect_run
from grounding.run_eval import evaluate_checkpoint, ground_truth_rows, write_jsonl
from groundwork.cache.manifest import read_manifest
from groundwork.errors import InputError, MissingInputError
from tests.grounding.report.tiny_run import TinyRun


def _test_rows(tiny_run: TinyRun) -> list[dict]:
    return [r for r in read_manifest(tiny_run.corpus.manifest).rows if r["split"] == "test"]


def test_a_row_per_query_with_curves_priors_and_linked_videos(tiny_run: TinyRun, tmp_path: Path) -> None:
    page_dir = tmp_path / "page"
    data = collect_run(tiny_run.run, page_dir, videos=[tiny_run.videos])
    rows = _test_rows(tiny_run)
    assert data["splits"] == ["test"] and data["model"] == "span"
    assert [q["qid"] for q in data["queries"]] == [r["query_id"] for r in rows]
    for q, row in zip(data["queries"], rows, strict=True):
        n = tiny_run.corpus.n_snippets[row["video_id"]]
        assert set(q["curves"]) == {"start", "end", "foreground"}  # span's curves, one value per snippet
        assert all(len(c["v"]) == n and max(c["v"]) == CURVE_STEPS for c in q["curves"].values())
        assert len(q["pred"]) == 5 and q["gt"] == [[round(s, 2), round(e, 2)] for s, e in row["windows"]]
        rewrite = [0.0, round(row["duration"], 2), tiny_run.rewrites[row["query_id"]], 1]
        assert q["priors"] == {"query_rewrite": [rewrite]}
    assert data["kinds"] == {"video": ["narrative", "clip_caption", "event"], "query": ["query_rewrite"]}
    vid = rows[0]["video_id"]
    video = data["videos"][vid]
    narratives = video["priors"]["narrative"]
    assert len(narratives) == tiny_run.corpus.n_snippets[vid]  # one per second, in time order
    assert [n[0] for n in narratives] == sorted(n[0] for n in narratives)
    assert narratives[1][3] == 0 and narratives[1][2].startswith("[Boom]")  # the fixture's error row, marked
    assert [e[2] for e in video["priors"]["event"]] == [f"{vid} event 0", f"{vid} event 1"]
    assert (page_dir / video["src"]).resolve() == (tiny_run.videos / f"{vid}.mp4").resolve()
    assert data["missing_videos"] == []


def test_metrics_and_ious_match_the_file_evaluation(tiny_run: TinyRun, tmp_path: Path) -> None:
    run = tmp_path / "run"  # the trained checkpoint, in a folder of its own
    run.mkdir()
    os.symlink(tiny_run.run / "best", run / "best", target_is_directory=True)
    result = evaluate_checkpoint(run, "test")  # writes run/preds_test.jsonl, as grounding-eval does
    rows = _test_rows(tiny_run)
    gt_file = tmp_path / "gt.jsonl"
    write_jsonl(gt_file, ground_truth_rows(rows))
    by_file = evaluate_prediction_files(Path(result["predictions_file"]), gt_file)
    data = collect_run(run, tmp_path / "page", videos=[tiny_run.videos], curves=False)
    assert data["metrics"]["overall"] == by_file["metrics"]
    assert data["metrics"]["splits"] == by_file["splits"]
    assert all(q["curves"] == {} for q in data["queries"])  # --no-curves: no model pass
    lines = Path(result["predictions_file"]).read_text().splitlines()
    preds = {str(json.loads(line)["qid"]): json.loads(line) for line in lines}
    for q, row in zip(data["queries"], rows, strict=True):
        s, e = preds[q["qid"]]["pred_relevant_windows"][0][:2]
        best = 0.0
        for gs, ge in row["windows"]:  # IoU of the top-1 window, by hand
            inter = max(0.0, min(e, ge) - max(s, gs))
            best = max(best, inter / (max(e, ge) - min(s, gs)))
        assert q["iou"] == pytest.approx(best, abs=1e-4)


def test_a_prediction_file_wins_and_decides_correct_and_wrong(tiny_run: TinyRun, tmp_path: Path) -> None:
    run = tmp_path / "run"
    run.mkdir()
    os.symlink(tiny_run.run / "best", run / "best", target_is_directory=True)
    rows = _test_rows(tiny_run)
    exact, shifted = rows[0], rows[1]
    s, e = shifted["windows"][0]
    width = e - s
    preds = [
        {
            "qid": exact["query_id"],
            "pred_relevant_windows": [[*exact["windows"][0], 0.9]],
            "pred_saliency_scores": [0.0, 0.5, 1.0, 0.5],
        },
        {"qid": shifted["query_id"], "pred_relevant_windows": [[s + width / 2, e + width / 2, 0.8]]},
    ]
    write_jsonl(run / "preds_test.jsonl", preds)
    data = collect_run(run, tmp_path / "page", curves=False, videos=[tmp_path / "no-videos-here"])
    by_qid = {q["qid"]: q for q in data["queries"]}
    assert by_qid[exact["query_id"]]["iou"] == 1.0
    assert by_qid[shifted["query_id"]]["iou"] == pytest.approx(1 / 3, abs=1e-3)  # half a window off: 1/3
    assert by_qid[exact["query_id"]]["curves"] == {"saliency": {"max": 1.0, "v": [0, 500, 1000, 500]}}
    missing = [r["query_id"] for r in rows[2:]]
    assert all(by_qid[qid]["iou"] == 0.0 and by_qid[qid]["pred"] == [] for qid in missing)
    assert data["metrics"]["counts"]["missing_predictions"] == len(missing)
    assert data["metrics"]["overall"]["R1@0.5"] == pytest.approx(100 / len(rows), abs=0.01)
    assert data["missing_videos"] == sorted({r["video_id"] for r in rows})
    assert all(v["src"] is None for v in data["videos"].values())


def test_curves_scale_to_their_maximum() -> None:
    from grounding.report.gather import _curve

    assert _curve(np.array([0.0, 0.25, 0.5])) == {"max": 0.5, "v": [0, 500, 1000]}
    assert _curve(np.zeros(3)) == {"max": 0.0, "v": [0, 0, 0]}
    assert _curve(np.array([np.nan, 2.0])) == {"max": 2.0, "v": [0, 1000]}


def test_errors_name_what_is_missing(tiny_run: TinyRun, tmp_path: Path) -> None:
    with pytest.raises(MissingInputError, match="does not exist"):
        collect_run(tmp_path / "nothing", tmp_path)
    bare = tmp_path / "bare"
    bare.mkdir()
    with pytest.raises(MissingInputError, match="--priors"):
        collect_run(bare, tmp_path)
    with pytest.raises(InputError, match="split\\(s\\) nope not in manifest"):
        collect_run(tiny_run.run, tmp_path, splits=["nope"])
    write_jsonl(bare / "preds_test.jsonl", [{"qid": "x", "pred_relevant_windows": [[0, 1, 1]]}])
    data = collect_run(bare, tmp_path, manifest=tiny_run.corpus.manifest)  # a zero-shot run: preds, no checkpoint
    assert data["splits"] == ["test"] and any("no checkpoint" in n for n in data["notes"])


def test_several_splits_get_a_metrics_row_each(tiny_run: TinyRun, tmp_path: Path) -> None:
    """Charades-CD / -CG test splits are manifest splits: each gets its row beside the pooled one."""
    data = collect_run(tiny_run.run, tmp_path, splits=["val", "test"], curves=False)
    rows = [r for r in read_manifest(tiny_run.corpus.manifest).rows if r["split"] in ("val", "test")]
    assert sorted(q["qid"] for q in data["queries"]) == sorted(r["query_id"] for r in rows)
    assert set(data["metrics"]["splits"]) == {"val", "test"}
    assert data["metrics"]["overall"]["n"] == len(rows)
    assert {s: m["n"] for s, m in data["metrics"]["splits"].items()} == {
        s: sum(r["split"] == s for r in rows) for s in ("val", "test")
    }
