"""The report in a real browser: headless Chromium (Debian's ``chromium``; ``.ci/run`` installs
it) opens a run's report from disk, the DOM holds a row per query, a click on a row seeks the
video to the top-1 window's start (with its metadata loaded from the linked MP4), the filters and
the IoU sort work, the page raised no error, and a screenshot is saved. Skipped, with the reason,
where no Chromium is installed."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest

from grounding.report import write_run_report
from grounding.report.browser import Browser, find_chromium
from tests.grounding.report.tiny_run import TinyRun

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        find_chromium() is None,
        reason="no Chromium on this machine (Debian: apt-get install chromium; .ci/run installs it)",
    ),
]

SCREENSHOT_DIR = "GROUNDWORK_TEST_SCREENSHOTS"  # where to copy the screenshot too (CI artifacts)


def _rows(browser: Browser, selector: str = "#rows .row") -> list[dict]:
    return browser.evaluate(f"""Array.from(document.querySelectorAll({json.dumps(selector)}))
        .map((r) => ({{qid: r.dataset.qid, hidden: r.hidden, iou: r.querySelector(".iou").textContent}}))""")


def _codec(video: Path) -> str:
    import av

    with av.open(str(video)) as container:
        return container.streams.video[0].codec_context.name


def test_report_opens_lists_every_query_and_a_click_seeks_the_video(tiny_run: TinyRun, tmp_path: Path) -> None:
    codec = _codec(next(tiny_run.videos.glob("*.mp4")))
    if codec != "h264":  # the demo's encoder falls back to MPEG-4 Part 2 without libx264; Chromium cannot decode it
        pytest.skip(f"PyAV here has no libx264: the test videos are {codec}, which Chromium does not decode")
    page = write_run_report(tiny_run.run, tmp_path / "report" / "index.html", videos=[tiny_run.videos])
    data = json.loads(_page_data(page))
    queries = {q["qid"]: q for q in data["queries"]}
    with Browser.launch() as browser:
        browser.open(page)
        browser.wait_for("window.reportReady === true", timeout=15)
        rows = _rows(browser)
        assert sorted(r["qid"] for r in rows) == sorted(queries) and not any(r["hidden"] for r in rows)
        ious = [queries[r["qid"]]["iou"] for r in rows]
        assert ious == sorted(ious, reverse=True)  # default sort: IoU, high to low

        target = rows[len(rows) // 2]["qid"]
        start = queries[target]["pred"][0][0]
        assert start > 0.5  # so a seek is a visible move from 0
        browser.click(f'#rows .row[data-qid="{target}"]')
        browser.wait_for(
            f"""(() => {{ const v = document.getElementById("player");
            return v.readyState >= 1 && !v.seeking && Math.abs(v.currentTime - {start}) < 0.05; }})()""",
            timeout=20,
        )
        assert browser.evaluate("document.querySelector('#rows .row.selected').dataset.qid") == target
        assert browser.evaluate("document.getElementById('sel-query').textContent") == queries[target]["query"]
        duration = browser.evaluate("document.getElementById('player').duration")
        assert duration == pytest.approx(data["videos"][queries[target]["vid"]]["duration"], abs=0.2)
        assert browser.evaluate("document.querySelectorAll('#timeline rect.gt').length") == len(queries[target]["gt"])
        rewrite = tiny_run.rewrites[target]
        assert rewrite in browser.evaluate("document.getElementById('priors').textContent")  # shown as text
        assert browser.evaluate("document.querySelectorAll('#priors b').length") == 0
        shot = browser.screenshot(tmp_path / "report.png")

        browser.click("input[name=filter][value=bad]")  # wrong at IoU 0.5
        shown = [r["qid"] for r in _rows(browser) if not r["hidden"]]
        assert sorted(shown) == sorted(q for q, v in queries.items() if v["iou"] is not None and v["iou"] < 0.5)
        browser.click("input[name=filter][value=all]")
        browser.evaluate(
            "(() => { const s = document.getElementById('sort'); s.value = 'iou-asc';"
            " s.dispatchEvent(new Event('change')); })()"
        )
        ious = [queries[r["qid"]]["iou"] for r in _rows(browser)]
        assert ious == sorted(ious)
        assert browser.console == []  # no uncaught error, no console output
    assert shot.stat().st_size > 10_000
    if os.environ.get(SCREENSHOT_DIR):
        shutil.copy(shot, Path(os.environ[SCREENSHOT_DIR]) / "report.png")


def test_a_missing_or_undecodable_video_is_said_so(tiny_run: TinyRun, tmp_path: Path) -> None:
    import av
    import numpy as np

    queries = json.loads(_page_data(write_run_report(tiny_run.run, tmp_path / "probe.html", curves=False)))["queries"]
    broken, missing = queries[0]["vid"], next(q["vid"] for q in queries if q["vid"] != queries[0]["vid"])
    folder = tmp_path / "videos"
    folder.mkdir()
    with av.open(str(folder / f"{broken}.mp4"), "w", format="mp4") as container:  # MPEG-4 Part 2
        stream = container.add_stream("mpeg4", rate=10)
        stream.width, stream.height, stream.pix_fmt = 64, 64, "yuv420p"
        for k in range(20):
            frame = av.VideoFrame.from_ndarray(np.full((64, 64, 3), 10 * k, np.uint8), format="rgb24")
            frame.pts = k
            container.mux(stream.encode(frame))
        container.mux(stream.encode())
    page = write_run_report(tiny_run.run, tmp_path / "report" / "index.html", videos=[folder], curves=False)
    with Browser.launch() as browser:
        browser.open(page)
        browser.wait_for("window.reportReady === true", timeout=15)
        assert "videos not found" in browser.evaluate("document.getElementById('notes').textContent")
        browser.click(f'#rows .row[data-qid="{next(q["qid"] for q in queries if q["vid"] == missing)}"]')
        assert f"video {missing} not found" in browser.evaluate("document.getElementById('novideo').textContent")
        browser.click(f'#rows .row[data-qid="{queries[0]["qid"]}"]')
        message = browser.wait_for(
            """(() => { const box = document.getElementById("novideo");
            return !box.hidden && box.textContent.includes("cannot play") && box.textContent; })()""",
            timeout=15,
        )
        assert f"{broken}.mp4" in message and browser.evaluate("document.getElementById('player').hidden")
        assert browser.console == []


def _page_data(page: Path) -> str:
    return page.read_text().split('id="report-data">', 1)[1].split("</script>", 1)[0]
