"""The page file: one self-contained HTML (no external URL), its data recoverable as JSON with a
model's markup kept as text; the command line; the demo's index of per-run reports."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from grounding.report import render_page, write_demo_report, write_run_report
from grounding.report.cli import main
from tests.grounding.report.tiny_run import TinyRun

DATA_RE = re.compile(r'<script type="application/json" id="report-data">(.*?)</script>', re.DOTALL)


def _data(page: str) -> dict:
    scripts = DATA_RE.findall(page)
    assert len(scripts) == 1
    return json.loads(scripts[0])


def test_the_page_is_self_contained_and_its_data_round_trips(tiny_run: TinyRun, tmp_path: Path) -> None:
    path = write_run_report(tiny_run.run, tmp_path / "r" / "index.html", videos=[tiny_run.videos], curves=False)
    page = path.read_text()
    assert not re.search(r"""(src|href)=["']?(https?:)?//""", page)  # nothing fetched from a network
    assert "<link" not in page and page.count("<script") == 2  # data + inline code, nothing linked
    data = _data(page)
    rewrite = next(iter(tiny_run.rewrites.values()))
    assert "</script><b>" in rewrite and rewrite in json.dumps(data, ensure_ascii=False)  # kept, as text
    assert "</script><b>" not in page  # ... and never as markup
    assert len(data["queries"]) == len(tiny_run.rewrites)


def test_render_page_escapes_every_angle_bracket() -> None:
    data = {"title": "<!-- </script> <script>alert(1)</script>", "queries": []}
    page = render_page(data)
    assert _data(page) == data
    assert "alert(1)</script>" not in page and "<!-- </script>" not in page


def test_cli_writes_the_report_and_names_a_bad_run(
    tiny_run: TinyRun, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "out.html"
    assert main([str(tiny_run.run), "--videos", str(tiny_run.videos), "--out", str(out), "--no-curves"]) == 0
    assert capsys.readouterr().out.strip() == f"wrote {out}"
    assert len(_data(out.read_text())["queries"]) == len(tiny_run.rewrites)
    assert main([str(tmp_path / "missing-run")]) == 2
    assert "missing-run does not exist" in capsys.readouterr().err


def test_demo_index_links_a_report_per_run(tiny_run: TinyRun, tmp_path: Path) -> None:
    demo = tmp_path / "demo"
    demo.mkdir()
    span = {
        "method": "span",
        "variant": "",
        "seeds": [0],
        "metrics": {"R1@0.5": 12.5, "mIoU": 20.0, "same_window": 87.5},
        "spread": {"R1@0.5": 0.0},
        "runs": [str(tiny_run.run)],
        "test_split": "test",
    }
    summary = {
        "rows": [
            span,
            span | {"method": "tea", "variant": "without narratives", "same_as": "span"},
            {"method": "constant span (train)", "variant": "", "seeds": [], "metrics": {"R1@0.5": 5.0}, "spread": {}},
        ],
        "test_queries": len(tiny_run.rewrites),
        "seeds": [0],
    }
    (demo / "summary.json").write_text(json.dumps(summary))
    index = write_demo_report(demo, videos=[tiny_run.videos], curves=False)
    assert index == demo / "report" / "index.html"
    links = re.findall(r'href="([^"]+)"', index.read_text())
    assert len(links) == 2 and (index.parent / links[0]).resolve() == (tiny_run.run / "report" / "index.html").resolve()
    assert links[1] == links[0] and "seed 0 (span&#x27;s run)" in index.read_text()  # a same_as row: span's page
    assert "12.50" in index.read_text() and "constant span (train)" in index.read_text()
    assert "<th>same_window</th>" in index.read_text() and "87.50" in index.read_text()
    assert _data((tiny_run.run / "report" / "index.html").read_text())["title"] == "span — seed 0"  # not the reuser's
