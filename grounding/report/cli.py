"""``grounding-report``: a static HTML report of a run folder (or of every run of a demo folder)."""

from __future__ import annotations

import sys
from collections.abc import Sequence
from pathlib import Path

import typer

from groundwork.cli import new_app, run_app

MOVED = "instead of the path the checkpoint recorded (a run copied from another machine)"
EXAMPLES = """\b
examples:
  grounding-report runs/tea-demo                       # writes runs/tea-demo/report/index.html
  grounding-report runs/tea-charades --split test --videos /data/charades/videos
  grounding-report runs/demo                           # a demo folder: a report per run + an index
\b
reads:  the run folder (its best/ checkpoint's config, RUN/preds_<split>.jsonl, else one model
        pass over the split), the manifest and the priors cache it recorded, the video files
        (<video id>.<ext> under --videos; default data/<dataset>/videos); a demo folder's summary.json
writes: OUT (default RUN/report/index.html): one HTML file, CSS, JS and data inline, opened from
        disk with no server or network; videos are linked relative to it (keep the run and the
        videos where they are, or pass --videos again after moving them)
\b
The page: the metrics (per split), a row per query (filter correct / wrong at IoU 0.5, sort by
IoU), and for the clicked query its video seeked to the top-1 window, its timeline (ground
truth, predictions, the model's curves, narratives / clip captions / events) and its rewrites.
"""

app = new_app("Write a browsable HTML report of a run's predictions next to the videos and the priors.")


@app.command(epilog=EXAMPLES)
def report(
    run: Path = typer.Argument(..., help="run folder (or a grounding.demo folder with summary.json)"),
    split: list[str] | None = typer.Option(
        None, "--split", help="split(s) to show (default: every preds_<split>.jsonl, else the test split); repeat"
    ),
    videos: list[Path] | None = typer.Option(None, "--videos", help="folder of <video id>.<ext> files; repeat"),
    out: Path | None = typer.Option(None, "--out", help="the page to write (default RUN/report/index.html)"),
    no_curves: bool = typer.Option(False, "--no-curves", help="skip the model pass that draws its curves"),
    device: str = typer.Option("cpu", "--device", help="device of the model pass: cpu, cuda, ..."),
    priors: Path | None = typer.Option(None, "--priors", help=f"the manifest to read {MOVED}"),
    features: list[str] | None = typer.Option(None, "--features", help=f"feature store(s) {MOVED}; repeat"),
    cache_dir: str | None = typer.Option(None, "--cache-dir", help=f"the priors cache folder {MOVED}"),
) -> None:
    """Write RUN/report/index.html (a demo folder: a report per run and OUT/report/index.html)."""
    from grounding.report.page import write_demo_report, write_run_report

    if (run / "summary.json").is_file() and not (run / "best").exists():
        path = write_demo_report(run, videos or (), curves=not no_curves)
    else:
        path = write_run_report(
            run,
            out,
            splits=split or (),
            videos=videos or (),
            curves=not no_curves,
            device=device,
            manifest=priors,
            features=features or None,
            cache_dir=cache_dir,
        )
    print(f"wrote {path}")


def main(argv: Sequence[str] | None = None) -> int:
    return run_app(app, argv, "grounding-report")


if __name__ == "__main__":
    sys.exit(main())
