"""STVG prediction / ground-truth files: validation errors, scoring per sentence type, counts, report."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from grounding.metrics.stvg import GroundTruthTube, PredictedTube, score_query
from grounding.metrics.stvg_records import (
    StvgPredictionRecord,
    evaluate_stvg,
    evaluate_stvg_files,
    format_stvg,
    looks_like_stvg_gt,
    read_stvg_file,
    to_tubedetr,
)
from groundwork.errors import InputError, MissingInputError
from tests.conftest import shared_path

BOX = [0.0, 0.0, 10.0, 10.0]
SHIFTED = [5.0, 0.0, 15.0, 10.0]  # IoU with BOX: 1/3
HALF = [0.0, 0.0, 10.0, 5.0]  # IoU with BOX: 0.5


def gt_row(qid: int, qtype: str | None = "declarative", **extra: Any) -> dict[str, Any]:
    """GT [10, 20) with BOX on every frame of [10, 21), in a 5 fps video: TubeDETR's grid is every frame."""
    row = {
        "qid": qid,
        "vid": f"v{qid}",
        "gt_sted": [10, 20],
        "gt_boxes": {str(f): BOX for f in range(10, 21)},
        "segment": [0, 30],
        "fps": 5.0,
        "frame_count": 31,
    }
    if qtype is not None:
        row["qtype"] = qtype
    return row | extra


def pred_row(qid: int, sted: list[int], box: list[float] = BOX, frames: range = range(0, 31), **extra: Any) -> dict:
    return {"qid": qid, "vid": f"v{qid}", "sted": sted, "boxes": {str(f): box for f in frames}} | extra


def write_jsonl(path: Path, rows: list[Any]) -> Path:
    path.write_text("".join((r if isinstance(r, str) else json.dumps(r)) + "\n" for r in rows))
    return path


GT_ROWS = [
    gt_row(1, split="test_a"),
    gt_row(2, split="test_a"),
    gt_row(3, "interrogative", split="test_b"),
    gt_row(4, "interrogative", split="test_b"),
]
PRED_ROWS = [
    pred_row(1, [10, 20]),  # perfect: 1, 1, 1
    pred_row(2, [15, 25], SHIFTED),  # case B: tIoU 1/3, vIoU 1/9, sIoU 1/3
    pred_row(3, [10, 20], HALF),  # case C: 1, 0.5 (not counted at 0.5), 0.5
    pred_row(99, [0, 5]),  # not in the GT: ignored, counted
]  # qid 4 has no prediction: 0 everywhere, counted


def test_files_score_each_sentence_type_apart(tmp_path: Path) -> None:
    gt = write_jsonl(tmp_path / "gt.jsonl", GT_ROWS)
    preds = write_jsonl(tmp_path / "preds.jsonl", PRED_ROWS)
    assert looks_like_stvg_gt(gt)
    out = evaluate_stvg_files(preds, gt, protocol="tubedetr", per_query=True)
    assert (out["suite"], out["protocol"], out["gt_file"]) == ("stvg", "tubedetr", str(gt))
    assert "TubeDETR" in out["reference"]
    assert out["metrics"] == {
        "declarative": {"m_tIoU": 66.67, "m_vIoU": 55.56, "vIoU@0.3": 50.0, "vIoU@0.5": 50.0, "m_sIoU": 66.67, "n": 2},
        "interrogative": {"m_tIoU": 50.0, "m_vIoU": 25.0, "vIoU@0.3": 50.0, "vIoU@0.5": 0.0, "m_sIoU": 25.0, "n": 2},
    }
    assert out["pooled_over_qtypes"]["n"] == 4
    assert out["pooled_over_qtypes"]["m_tIoU"] == 58.33  # (1 + 1/3 + 1 + 0) / 4
    assert out["splits"] == {
        "test_a": {"declarative": out["metrics"]["declarative"]},
        "test_b": {"interrogative": out["metrics"]["interrogative"]},
    }
    assert out["counts"] == {
        "gt": 4,
        "predictions": 4,
        "missing_predictions": 1,
        "extra_predictions": 1,
        "missing_boxes": 0,
        "queries_with_missing_boxes": 0,
        "gt_boxes_repeated": 0,
        "qtype_mismatches": 0,
    }
    assert out["missing_qids"] == [4]
    assert out["queries"][3] == {
        "qid": 4,
        "vid": "v4",
        "qtype": "interrogative",
        "split": "test_b",
        "tIoU": 0.0,
        "vIoU": 0.0,
        "sIoU": 0.0,
        "predicted": False,
        "gt_frames": 10,
        "missing_boxes": 10,
    }
    assert out["queries"][1]["vIoU"] == pytest.approx(1 / 9)
    json.dumps(out)  # JSON-able

    text = format_stvg(out)
    assert "protocol: tubedetr" in text
    assert "WARNING: 1 GT queries have no prediction (scored 0): 4" in text
    assert "note: 1 predictions for qids not in the GT were ignored" in text
    lines = text.splitlines()
    header = next(line for line in lines if line.startswith("qtype"))
    assert header.split() == ["qtype", "n", "m_tIoU", "m_vIoU", "vIoU@0.3", "vIoU@0.5", "m_sIoU"]
    assert next(line for line in lines if line.startswith("declarative")).split() == [
        "declarative",
        "2",
        "66.67",
        "55.56",
        "50.00",
        "50.00",
        "66.67",
    ]
    assert any(line.startswith("pooled (papers never pool)") for line in lines)
    assert any(line.startswith("test_b / interrogative") for line in lines)


def test_dense_protocol_counts_repeated_gt_end_boxes() -> None:
    # GT boxes on 10..19 only: dense reads frame 20 as the inclusive GT end and repeats the box of 19.
    gt = [gt_row(1, gt_boxes={str(f): BOX for f in range(10, 20)})]
    out = evaluate_stvg([pred_row(1, [10, 20])], gt, protocol="dense")
    assert out["counts"]["gt_boxes_repeated"] == 1
    assert out["metrics"]["declarative"]["m_tIoU"] == 100.0
    assert "the previous box was repeated" in format_stvg(out)


def test_without_qtype_one_row_and_hcstvg_has_no_siou() -> None:
    gt = [gt_row(1, None), gt_row(2, None)]
    preds = [pred_row(1, [10, 20]), pred_row(2, [15, 25], frames=range(15, 25))]
    out = evaluate_stvg(preds, gt, protocol="hcstvg")
    assert list(out["metrics"]) == ["all"]
    assert "pooled_over_qtypes" not in out and "splits" not in out
    assert out["metrics"]["all"] == {"m_tIoU": 66.67, "m_vIoU": 66.67, "vIoU@0.3": 100.0, "vIoU@0.5": 50.0, "n": 2}
    assert "m_sIoU" not in format_stvg(out)


def test_missing_boxes_are_counted_and_reported() -> None:
    out = evaluate_stvg([pred_row(1, [10, 20], frames=range(10, 15))], [gt_row(1)])
    assert (out["counts"]["missing_boxes"], out["counts"]["queries_with_missing_boxes"]) == (5, 1)
    assert out["metrics"]["declarative"]["m_vIoU"] == 50.0
    assert "WARNING: 5 scored GT frames in 1 queries have no predicted box (scored IoU 0)" in format_stvg(out)


def test_prediction_qtype_fills_in_and_mismatches_are_counted() -> None:
    gt = [gt_row(1, None), gt_row(2, "declarative")]
    preds = [pred_row(1, [10, 20], qtype="interrogative"), pred_row(2, [10, 20], qtype="interrogative")]
    out = evaluate_stvg(preds, gt)
    assert list(out["metrics"]) == ["declarative", "interrogative"]
    assert out["counts"]["qtype_mismatches"] == 1


def test_matches_the_metric_functions() -> None:
    gt = gt_row(
        1,
        gt_sted=[100, 200],
        gt_boxes={str(f): BOX for f in range(100, 200)},
        segment=[0, 300],
        fps=29.97,
        frame_count=300,
    )
    out = evaluate_stvg([pred_row(1, [150, 250], frames=range(300))], [gt], per_query=True)
    tube = GroundTruthTube((100, 200), {f: BOX for f in range(100, 200)}, (0, 300), 29.97, 300)
    score = score_query(PredictedTube((150, 250), {f: BOX for f in range(300)}), tube, "tubedetr")
    assert (out["queries"][0]["tIoU"], out["queries"][0]["vIoU"]) == (score.tiou, score.viou) == (1 / 3, 0.36)


def test_to_tubedetr_dicts() -> None:
    rec = StvgPredictionRecord.model_validate(pred_row(7, [3, 5], frames=range(3, 5), qtype="declarative"))
    boxes, videos = to_tubedetr([rec])
    assert videos == {"7": {"sted": [3, 5], "qtype": "declarative"}}
    assert boxes == {"7_3": {"boxes": [BOX]}, "7_4": {"boxes": [BOX]}}


# --- errors -----------------------------------------------------------------------------------------

GOOD_PRED = json.dumps(pred_row(1, [10, 20]))


@pytest.mark.parametrize(
    ("line", "pattern"),
    [
        ("{not json", r"preds.jsonl:2: invalid JSON"),
        (json.dumps({"qid": 2, "vid": "v2", "boxes": {}}), r"preds.jsonl:2 \(qid 2\): field 'sted': Field required"),
        (
            json.dumps(pred_row(2, [20, 10])),
            r"preds.jsonl:2 \(qid 2\): .*sted = \[20, 10\] must satisfy 0 <= start < end",
        ),
        (json.dumps(pred_row(2, [10, 10])), r"sted = \[10, 10\] must satisfy 0 <= start < end"),
        (json.dumps(pred_row(2, [1.5, 10])), r"preds.jsonl:2 \(qid 2\): field 'sted\[0\]'"),
        (
            json.dumps(pred_row(2, [0, 10], [5, 0, 1, 10])),
            r"boxes\[0\] = \[5.0, 0.0, 1.0, 10.0\] is not \[x1, y1, x2, y2\]",
        ),
        (
            json.dumps(pred_row(2, [0, 10], [0, 0, 1])),
            r"\(qid 2\): field '<row>': Value error, boxes\[0\] = \[0.0, 0.0, 1.0\] must hold 4 numbers",
        ),
        (json.dumps(pred_row(2, [0, 10]) | {"boxes": {"x": BOX}}), r"field 'boxes\.x\.\[key\]'"),
        ('{"qid": 2, "vid": "v2", "sted": [0, 5], "boxes": {"0": [0, 0, NaN, 1]}}', r"holds a non-finite number"),
        (GOOD_PRED, r"preds.jsonl:2: duplicate qid 1 \(first seen at .*preds.jsonl:1\)"),
    ],
)
def test_prediction_errors_name_file_line_and_field(tmp_path: Path, line: str, pattern: str) -> None:
    path = write_jsonl(tmp_path / "preds.jsonl", [GOOD_PRED, line])
    with pytest.raises(InputError, match=pattern):
        read_stvg_file(path, StvgPredictionRecord)


@pytest.mark.parametrize(
    ("change", "pattern"),
    [
        ({"gt_sted": [20, 20]}, r"gt.jsonl:1 \(qid 1\): .*gt_sted = \[20, 20\] must satisfy 0 <= start < end"),
        ({"gt_sted": [10, 40]}, r"gt_sted = \[10, 40\] ends past frame_count 31"),
        ({"segment": [5, 0]}, r"segment = \[5, 0\] must satisfy 0 <= start <= end"),
        ({"fps": 0}, r"field 'fps': Input should be greater than 0"),
        ({"dataset": "vidor"}, r"field 'dataset': Input should be 'vidstg' or 'hcstvg'"),
    ],
)
def test_ground_truth_errors_name_file_line_and_field(tmp_path: Path, change: dict, pattern: str) -> None:
    gt = write_jsonl(tmp_path / "gt.jsonl", [gt_row(1) | change])
    preds = write_jsonl(tmp_path / "preds.jsonl", [GOOD_PRED])
    with pytest.raises(InputError, match=pattern):
        evaluate_stvg_files(preds, gt)


def test_gt_box_missing_on_a_scored_frame_names_file_query_and_frame(tmp_path: Path) -> None:
    gt = write_jsonl(tmp_path / "gt.jsonl", [gt_row(1, gt_boxes={str(f): BOX for f in range(10, 20) if f != 14})])
    preds = write_jsonl(tmp_path / "preds.jsonl", [GOOD_PRED])
    with pytest.raises(InputError, match=r"gt.jsonl: qid 1: field 'gt_boxes' has no box for frame\(s\) 14 "):
        evaluate_stvg_files(preds, gt, protocol="tubedetr")
    # the challenge scorer iterates the GT boxes there are: no error
    assert evaluate_stvg_files(preds, gt, protocol="hcstvg")["metrics"]["declarative"]["m_tIoU"] == 90.0


def test_prediction_for_another_video_is_an_error() -> None:
    with pytest.raises(InputError, match=r"qid 1: the prediction is for vid 'v9', the ground truth .* for 'v1'"):
        evaluate_stvg([pred_row(1, [10, 20], vid="v9")], [gt_row(1)])


def test_missing_empty_files_and_unknown_protocol(tmp_path: Path) -> None:
    gt = write_jsonl(tmp_path / "gt.jsonl", [gt_row(1)])
    with pytest.raises(MissingInputError, match=r"StvgPredictionRecord file not found: .*absent.jsonl"):
        evaluate_stvg_files(tmp_path / "absent.jsonl", gt)
    with pytest.raises(InputError, match=r"empty.jsonl: no records"):
        evaluate_stvg_files(write_jsonl(tmp_path / "empty.jsonl", []), gt)
    with pytest.raises(InputError, match="unknown STVG protocol 'tube'; did you mean 'tubedetr'"):
        evaluate_stvg_files(gt, gt, protocol="tube")
    with pytest.raises(InputError, match="the STVG ground truth is empty"):
        evaluate_stvg([], [])
    assert not looks_like_stvg_gt(write_jsonl(tmp_path / "temporal.jsonl", [{"qid": 1, "relevant_windows": [[0, 1]]}]))
    assert not looks_like_stvg_gt(tmp_path / "absent.jsonl")


# --- real VidSTG annotations (temporal part; boxes synthetic, VidOR is not available) ----------------


def test_real_vidstg_val_entries_score_under_every_protocol() -> None:
    entries = json.loads(shared_path("vidstg", "val_annotations.json").read_text())[:150]
    gt, preds = [], []
    for i, e in enumerate(entries):
        s, end = e["temporal_gt"]["begin_fid"], e["temporal_gt"]["end_fid"]
        last = min(end + 1, e["frame_count"])  # boxes on [s, end] where the video has the frame
        sentences = [("declarative", c) for c in e["captions"]] + [("interrogative", q) for q in e["questions"]]
        for j, (qtype, _) in enumerate(sentences):
            qid = f"{i}-{j}"
            seg = [e["used_segment"]["begin_fid"], e["used_segment"]["end_fid"]]
            gt.append(
                {
                    "qid": qid,
                    "vid": e["vid"],
                    "qtype": qtype,
                    "gt_sted": [s, end],
                    "segment": seg,
                    "gt_boxes": {f: BOX for f in range(s, last)},
                    "fps": e["fps"],
                    "frame_count": e["frame_count"],
                }
            )
            boxes = {f: BOX for f in range(seg[0], seg[1] + 1)}
            preds.append({"qid": qid, "vid": e["vid"], "sted": [s, end], "boxes": boxes})
    n_inter = sum(len(e["questions"]) for e in entries)
    for protocol in ("tubedetr", "hcstvg"):
        out = evaluate_stvg(preds, gt, protocol)
        assert {q: m["n"] for q, m in out["metrics"].items()} == {"declarative": 150, "interrogative": n_inter}
        assert all(m["m_tIoU"] == m["m_vIoU"] == 100.0 for m in out["metrics"].values()), protocol
        assert out["counts"]["missing_predictions"] == 0
    # dense: a GT ending past used_segment's (inclusive) end is clamped to it, g = segment end, so the exact
    # GT segment [s, e) scores (g - s) / (e - s) there (inter g - s, union (g - s) + (e - s) - (g - s)), 1 elsewhere
    dense = evaluate_stvg(preds, gt, "dense", per_query=True)
    n_clamped = 0
    for row, g in zip(dense["queries"], gt, strict=True):
        (s, e), seg_end = g["gt_sted"], g["segment"][1]
        n_clamped += e > seg_end
        assert row["tIoU"] == pytest.approx((seg_end - s) / (e - s) if e > seg_end else 1.0)
    assert n_clamped > 0  # the val file has such entries (end_fid == frame_count)
