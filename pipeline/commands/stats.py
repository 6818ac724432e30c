"""``priors stats DATASET --annotations DIR [--video-root DIR] [--json]``: per-split and whole-dataset
counts, mean lengths, vocabulary and every defect-policy count of a dataset's annotations."""

from __future__ import annotations

import json
from pathlib import Path

import typer

import pipeline.datasets  # noqa: F401 - fills the adapter registry
from groundwork.settings import parse_pair
from pipeline.prepare import load_annotations
from pipeline.stats import dataset_stats, format_stats


def command(
    dataset: str = typer.Argument(..., help="adapter name, e.g. charades_sta"),
    annotations: Path = typer.Option(..., "--annotations", help="folder holding the annotation files"),
    video_root: Path | None = typer.Option(None, "--video-root", help="folder of the videos (optional)"),
    dataset_options: list[str] | None = typer.Option(
        None,
        "--dataset-options",
        metavar="KEY=VALUE",
        help="keyword option of the adapter (repeat), e.g. boxes=DIR for vidstg's VidOR boxes",
    ),
    as_json: bool = typer.Option(False, "--json", help="print JSON instead of a table"),
) -> None:
    """Per split and for the whole dataset (column `all`: each video once, means over all kept
    queries / unique videos): videos, queries read and kept, mean moment / video length (s), mean
    query length (words), vocabulary and how many queries each defect policy touched.

    Reads the annotation files; writes nothing. Example: priors stats charades_sta --annotations
    ../shared/data/charades_sta --json"""
    options = {k: v for item in dataset_options or [] for k, v in parse_pair(item, "dataset-options").items()}
    stats = dataset_stats(load_annotations(dataset, annotations, video_root, options))
    print(json.dumps(stats, indent=2) if as_json else format_stats(stats))


def register(app: typer.Typer) -> None:
    app.command("stats")(command)
