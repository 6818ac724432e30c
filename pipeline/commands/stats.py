"""``priors stats DATASET --annotations DIR [--video-root DIR] [--json]``: per-split counts,
mean lengths, vocabulary and every defect-policy count of a dataset's annotations."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from pipeline.datasets import DATASETS
from pipeline.stats import dataset_stats, format_stats


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "stats",
        help="per-split statistics and defect-policy counts of a dataset's annotations",
        description=(
            "Read a dataset with its adapter and print, per split: videos, queries read and kept, "
            "mean moment / video length (s), mean query length (words), vocabulary size and how "
            f"many queries each defect policy touched. Datasets: {', '.join(DATASETS.names())}."
        ),
    )
    p.add_argument("dataset", help="adapter name, e.g. charades_sta")
    p.add_argument("--annotations", type=Path, required=True, help="folder holding the annotation files")
    p.add_argument("--video-root", type=Path, default=None, help="folder of the videos (optional)")
    p.add_argument("--json", action="store_true", help="print JSON instead of a table")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    try:
        annotations = DATASETS.get(args.dataset)(args.annotations, args.video_root)
    except ValueError as e:  # unknown adapter, missing file, malformed entry: the message names it
        print(f"priors stats: error: {e}", file=sys.stderr)
        return 2
    stats = dataset_stats(annotations)
    print(json.dumps(stats, indent=2) if args.json else format_stats(stats))
    return 0
