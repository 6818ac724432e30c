"""Write a report: one static HTML file with its CSS, JavaScript and data inline (no server, no
network: it opens from disk), the videos linked relatively (``report.videos``).

``write_run_report(run)`` gathers a run folder (``report.gather.collect_run``) and writes
``RUN/report/index.html``; ``render_page(data)`` is the page of any page-data dict (the benchmark
renders synthetic data with it). ``write_demo_report(demo_out)`` writes a report per run of a
``python -m grounding.demo`` folder and ``DEMO_OUT/report/index.html`` linking them.
"""

from __future__ import annotations

import html
import json
import os
from collections.abc import Sequence
from importlib import resources
from pathlib import Path
from typing import Any
from urllib.parse import quote

from grounding.report.gather import collect_run
from groundwork.atomic import atomic_write_text
from groundwork.errors import InputError, MissingInputError

INDEX = "index.html"


def _asset(name: str) -> str:
    return resources.files("grounding.report").joinpath("assets", name).read_text(encoding="utf-8")


def page_json(data: dict[str, Any]) -> str:
    """The data as JSON safe inside ``<script type="application/json">``: every ``<`` escaped
    (``\\u003c``), so no text (a model's answer included) can close the script element."""
    return json.dumps(data, ensure_ascii=False, separators=(",", ":"), allow_nan=False).replace("<", "\\u003c")


def render_page(data: dict[str, Any]) -> str:
    """The report page of ``data`` (the dict ``collect_run`` returns)."""
    template = _asset("page.html")
    parts = {"/*CSS*/": _asset("report.css"), "/*JS*/": _asset("report.js"), "/*DATA*/": page_json(data)}
    for marker in parts:  # each marker once; the data last, so its text is never searched
        if template.count(marker) != 1:
            msg = f"report template: expected one {marker} marker"
            raise RuntimeError(msg)
    head, rest = template.split("/*CSS*/")
    rest = rest.replace("/*JS*/", parts["/*JS*/"])
    before, after = rest.split("/*DATA*/")
    return head + parts["/*CSS*/"] + before + parts["/*DATA*/"] + after


def write_run_report(run: str | Path, out: str | Path | None = None, **options: Any) -> Path:
    """Gather ``run`` and write its page to ``out`` (default ``RUN/report/index.html``); the
    ``options`` are ``collect_run``'s (splits, videos, curves, device, manifest, features,
    cache_dir, title). Returns the page's path."""
    out = Path(out) if out else Path(run) / "report" / INDEX
    if out.suffix.lower() not in (".html", ".htm"):
        out = out / INDEX
    data = collect_run(run, out.parent, **options)
    out.parent.mkdir(parents=True, exist_ok=True)
    return atomic_write_text(out, render_page(data))


# -- the demo: one report per run and an index ----------------------------------------------------------
def _href(page: Path, start: Path) -> str:
    return quote(Path(os.path.relpath(page.resolve(), start.resolve())).as_posix())


def _metric_cells(row: dict[str, Any], columns: Sequence[str]) -> str:
    cells = []
    for column in columns:
        value = row.get("metrics", {}).get(column)
        spread = row.get("spread", {}).get(column)
        shown = f" ±{spread:.2f}" if spread and len(row.get("seeds", [])) > 1 else ""
        text = "" if value is None else f"{value:.2f}{shown}"
        cells.append(f"<td>{html.escape(text)}</td>")
    return "".join(cells)


def write_demo_report(
    demo_out: str | Path,
    videos: Sequence[Path] = (),
    curves: bool = True,
    columns: Sequence[str] = ("R1@0.3", "R1@0.5", "R1@0.7", "mIoU", "same_window"),
) -> Path:
    """A report for every run folder listed in ``DEMO_OUT/summary.json`` (``RUN/report/index.html``)
    and ``DEMO_OUT/report/index.html``: the demo's table (mean ±sd over seeds) with a link to each
    seed's report. Returns the index's path."""
    demo_out = Path(demo_out)
    summary_file = demo_out / "summary.json"
    if not summary_file.is_file():
        msg = f"{summary_file} does not exist: run `python -m grounding.demo` (or `make demo`) first"
        raise MissingInputError(msg)
    try:
        summary = json.loads(summary_file.read_text())
    except json.JSONDecodeError as exc:
        msg = f"{summary_file}: not valid JSON ({exc})"
        raise InputError(msg) from None
    index = demo_out / "report" / INDEX
    rows = summary.get("rows", [])
    pages: dict[str, Path] = {}  # run -> its page; a row with same_as links its row's pages
    for row in [r for r in rows if not r.get("same_as")] + [r for r in rows if r.get("same_as")]:
        label = row["method"] + (f" ({row['variant']})" if row.get("variant") else "")
        for run, seed in zip(row.get("runs", []), row.get("seeds", []), strict=False):
            if run not in pages:
                run_dir = Path(run) if Path(run).exists() else demo_out / Path(run).parent.name / Path(run).name
                pages[run] = write_run_report(
                    run_dir,
                    splits=[row["test_split"]] if row.get("test_split") else (),
                    videos=videos,
                    curves=curves,
                    title=f"{label} — seed {seed}",
                )
    lines = []
    for row in rows:
        label = row["method"] + (f" ({row['variant']})" if row.get("variant") else "")
        whose = f" ({row['same_as']}'s run)" if row.get("same_as") else ""
        links = [
            f'<a href="{_href(pages[run], index.parent)}">seed {seed}{html.escape(whose)}</a>'
            for run, seed in zip(row.get("runs", []), row.get("seeds", []), strict=False)
        ]
        lines.append(
            f"<tr><td>{html.escape(label)}</td>{_metric_cells(row, columns)}<td>{''.join(links) or '—'}</td></tr>"
        )
    head = "".join(f"<th>{html.escape(c)}</th>" for c in columns)
    body = (
        f"<header><h1>Demo runs</h1><div class='meta'>{summary.get('test_queries', '?')} test queries · seeds "
        f"{html.escape(str(summary.get('seeds', [])))} · {html.escape(str(summary_file))}</div></header>"
        "<main style='display:block;padding:12px 16px'>"
        f"<table class='metrics index'><thead><tr><th>method</th>{head}"
        f"<th>reports</th></tr></thead><tbody>{''.join(lines)}</tbody></table>"
        "<p class='meta'>Each report lists the test queries with the video, the timeline and what the MLLM "
        "wrote.</p>"
        "</main>"
    )
    page = (
        f"<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'><title>Demo runs — grounding report</title>"
        f"<style>{_asset('report.css')}</style></head><body>{body}</body></html>"
    )
    index.parent.mkdir(parents=True, exist_ok=True)
    return atomic_write_text(index, page)
