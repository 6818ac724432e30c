"""GranAlign from the demo narrator to the demo table, both halves for real: a small generated demo
(36 videos) goes through ``priors run`` with the pixel-reading stand-in (frame captions, rewrite
pairs, key frames, key-frame captions), then ``grounding.demo`` scores ``granalign`` from its
shipped config beside its pairing ablation rows and the constant-span baseline. Nothing is
trained (no checkpoint is written); the full method must beat the baseline, and its ablation
rows sit beside it in the table and in ``summary.json``."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
KINDS = ["frame_caption", "query_rewrite_pairs", "key_frame", "key_frame_caption"]
VARIANTS = {
    "simplified only": "simplified_only",
    "detailed only": "detailed_only",
    "original query": "original_agnostic",
}


@pytest.mark.slow
def test_granalign_joins_the_demo_table_and_beats_the_constant_baseline(tmp_path: Path) -> None:
    from grounding.demo import DemoPlan, DemoRow, run_demo, table
    from pipeline.config import PriorsConfig
    from pipeline.demo.videos import generate_demo
    from pipeline.graph import run_priors

    demo = generate_demo(tmp_path / "demo", seed=0, n_videos=36)
    manifest = tmp_path / "demo.parquet"
    report = run_priors(
        PriorsConfig(
            dataset="demo",
            annotations=demo,
            cache=tmp_path / "cache",
            manifest=manifest,
            model="shapes",
            backend="shapes",
            kinds=KINDS,
            num_cpus=2,
            progress=False,
        )
    )
    assert report.errors == {} and report.computed_rows["key_frame"] > 0

    config = REPO / "configs" / "granalign_demo.yaml"
    rows = [DemoRow(config=config)] + [
        DemoRow(config=config, variant=name, overrides={"model": {"pairing": pairing}})
        for name, pairing in VARIANTS.items()
    ]
    out = tmp_path / "runs"
    summary = run_demo(DemoPlan(manifest=manifest, seeds=[0], rows=rows), out, plots=0, progress=False)

    labels = [(r["method"], r["variant"]) for r in summary["rows"]]
    assert labels == [("granalign", ""), *(("granalign", v) for v in VARIANTS), ("constant span (train)", "")]
    full, constant = summary["rows"][0], summary["rows"][-1]
    assert full["beats_constant"] and summary["verdict"]["failing"] == [], (full["metrics"], constant["metrics"])
    assert not list(out.rglob("*.safetensors"))  # it trains nothing
    preds = [json.loads(line) for line in (Path(full["runs"][0]) / "preds_test.jsonl").read_text().splitlines()]
    assert preds and all(
        p["granalign"]["channels"] == ["simplified->agnostic", "detailed->aware"]
        for p in preds
        if not p["granalign"]["fallback"]
    )
    assert "granalign (original query)" in table(summary["rows"])
