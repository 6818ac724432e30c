"""A browsable report of a run: ``grounding-report RUN`` writes ``RUN/report/index.html``, one
static page (no server, no network) with the metrics per split, a row per query (filter correct /
wrong at IoU 0.5, sort by IoU) and, for the clicked query, its video seeked to the window, its
timeline (ground truth, predictions, the model's curves, the video's priors) and the texts the
MLLM wrote, aligned in time.

- ``gather``: the page's data from a run folder, its manifest and the priors cache;
- ``curves``: one batched model pass over a split (predictions and curves);
- ``videos``: finding the video files and linking them relative to the page;
- ``page``: the HTML (``assets/``: template, CSS, JS), a run's report, the demo's index;
- ``browser``: a headless Chromium over the DevTools pipe (the browser test and the benchmark).
"""

from grounding.report.page import render_page, write_demo_report, write_run_report

__all__ = ["render_page", "write_demo_report", "write_run_report"]
