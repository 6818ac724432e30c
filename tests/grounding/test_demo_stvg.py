"""The demo plan's spatio-temporal section: the shipped plan names bridge_stg and its two
baselines on the STVG manifest, and the STVG table shows every metric per sentence type."""

from __future__ import annotations

from pathlib import Path

from grounding.demo import STVG_METRICS, load_plan, stvg_table

REPO = Path(__file__).resolve().parents[2]


def test_shipped_plan_has_the_stvg_rows() -> None:
    section = load_plan(REPO / "configs" / "demo.yaml").stvg
    assert section is not None and section.manifest == Path("manifests/demo_stvg.parquet")
    assert [(r.variant, r.overrides.get("model", {}).get("mode")) for r in section.rows] == [
        ("", None),
        ("coupled", "coupled"),
        ("whole_frame", "whole_frame"),
    ]
    assert section.baseline == "whole_frame"


def test_stvg_table_per_sentence_type() -> None:
    metrics = {
        f"{t}/{m}": 10.0 * i + j
        for i, t in enumerate(("declarative", "interrogative"))
        for j, m in enumerate(STVG_METRICS)
    }
    rows = [
        {"method": "bridge_stg", "variant": "", "metrics": metrics},
        {"method": "bridge_stg", "variant": "whole_frame", "metrics": {**metrics, "interrogative/m_vIoU": 1.5}},
    ]
    text = stvg_table(rows).splitlines()
    assert "declarative" in text[0] and "interrogative" in text[0]
    assert text[1].split()[1:] == list(STVG_METRICS) * 2
    assert text[3].startswith("bridge_stg (whole_frame)") and text[3].split()[-3] == "1.50"
