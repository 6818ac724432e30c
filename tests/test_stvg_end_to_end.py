"""Spatio-temporal grounding through the whole product on a tiny generated STVG demo: ``priors
run`` (patch grids, tube table, temporal-reasoning prior) -> ``bridge_stg`` trained a few epochs
with STVG metrics in validation -> ``evaluate_checkpoint`` scores the test split with the STVG
metrics per sentence type (the same numbers as ``grounding-eval`` on the written files) ->
``Predictor.explain`` + ``plot_prediction`` draw the boxes on the video's frames."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from grounding.config import load_config
from grounding.data.stvg import ground_truth_rows
from grounding.metrics.stvg_records import evaluate_stvg_files
from grounding.plot import plot_prediction
from grounding.predict import Predictor
from grounding.run_eval import evaluate_checkpoint, write_jsonl
from grounding.train import fit
from groundwork.cache.manifest import read_manifest
from pipeline.backends.base import SamplingConfig
from pipeline.config import PriorsConfig
from pipeline.demo.stvg import generate_stvg_demo
from pipeline.demo.tiny_models import build_tiny_clip_vision
from pipeline.graph import run_priors

REPO = Path(__file__).resolve().parents[1]


@pytest.mark.slow
def test_stvg_from_priors_to_plot(tmp_path: Path) -> None:
    data = generate_stvg_demo(tmp_path / "data" / "demo_stvg", seed=1, n_videos=(4, 2, 2))
    clip = build_tiny_clip_vision(tmp_path / "models" / "tiny-clip-112", image_size=112)
    manifest = tmp_path / "manifests" / "demo_stvg.parquet"
    report = run_priors(
        PriorsConfig(
            dataset="demo_stvg",
            annotations=data,
            cache=tmp_path / "cache",
            manifest=manifest,
            model="shapes",
            backend="shapes",
            kinds=["temporal_reasoning"],
            visual_encoder=str(clip),
            num_cpus=2,
            progress=False,
            sampling=SamplingConfig(max_new_tokens=8),
        )
    )
    assert report.errors == {} and report.patch_videos == 8

    cfg = load_config(
        REPO / "configs" / "bridge_stg_demo.yaml",
        {
            "data": {"manifest": str(manifest)},
            "out_dir": str(tmp_path / "run"),
            "device": "cpu",
            "model": {"hidden": 32, "spatial_layers": 2},
            "optim": {"epochs": 2, "batch_size": 8},
        },
    )
    result = fit(cfg, progress=False)
    assert {"m_tIoU", "m_vIoU", "vIoU@0.5", "mIoU"} <= set(result.history[-1]["val"])  # STVG + temporal in validation

    scored = evaluate_checkpoint(tmp_path / "run" / "best", "test")
    stvg = scored["stvg"]
    assert stvg["protocol"] == "tubedetr" and set(stvg["metrics"]) == {"declarative", "interrogative"}
    counts = stvg["counts"]
    assert counts["missing_predictions"] == 0 and counts["missing_boxes"] == 0
    assert counts["gt"] == scored["counts"]["gt"]
    info = read_manifest(manifest)
    gt_file = tmp_path / "gt_test.jsonl"
    write_jsonl(gt_file, ground_truth_rows(info, [r for r in info.rows if r["split"] == "test"]))
    again = evaluate_stvg_files(Path(scored["predictions_file"]), gt_file)  # grounding-eval on the written files
    assert again["metrics"] == stvg["metrics"]

    predictor = Predictor.from_checkpoint(tmp_path / "run")
    row = next(r for r in info.rows if r["split"] == "test")
    pred = predictor.explain(row["video_id"], row["query"])
    assert pred.extra["gt_boxes"] and set(pred.extra["boxes"]) >= set(pred.extra["gt_boxes"])
    assert Path(pred.extra["video_path"]).name == f"{row['video_id']}.mp4"
    png = plot_prediction(pred, tmp_path / "plots", row["windows"])
    assert png.stat().st_size > 10_000
    new_text = predictor.explain(row["video_id"], "a blue square appears on the left")  # a text not in the manifest
    assert new_text.extra["boxes"] and "gt_boxes" not in new_text.extra
    json.dumps(pred.extra)  # the record is JSON-able as written
