"""``priors run DATASET --annotations DIR --model M [--config FILE] [--FIELD VALUE ...]``: generate
priors, text and visual features and the manifest for one dataset (the whole stage graph)."""

from __future__ import annotations

from pathlib import Path

import typer

from groundwork.cli import CONTEXT
from groundwork.settings import field_rows, fields_help, layered
from pipeline.config import PriorsConfig

EXAMPLES = """\b
examples:
  # the demo dataset (generated into data/demo when missing) with the pixel-reading demo narrator
  priors run demo --annotations data/demo --model shapes --backend shapes --visual-encoder .cache/models/tiny-clip
  # Charades-STA narratives every second with LLaVA-1.5 on a Ray cluster, shared cache
  priors run charades_sta --annotations ../shared/data/charades_sta --video-root /data/charades/videos \\
      --model llava-1.5-7b --backend vllm --cache /mnt/cache --ray-address auto --kinds narrative
  # settings from a file, one of them changed on the command line
  priors run qvhighlights --config priors.yaml --sampling.temperature 0.2

\b
reads:  the annotation files of DATASET (--annotations) and its videos (--video-root)
writes: prior rows and text features into the cache (--cache), visual features when
        --visual-encoder is set, the manifest (--manifest) and a run report beside it
\b
what it does:
  plan (drop keys already cached) -> decode (decord) -> render prompt -> generate (model)
  -> embed (text encoder) -> write (Parquet shards in the cache) -> manifest.
  A second identical run makes 0 model calls. Failed rows (missing videos, model errors) are
  cached as errors: see them with `priors errors`, redo them with --retry-errors.
"""


def _epilog() -> str:
    import pipeline.datasets  # noqa: F401 - fills DATASETS
    from pipeline.datasets.base import DATASETS
    from pipeline.presets import PRESETS

    known = f"\b\ndatasets: {', '.join(DATASETS.names())}\nmodel presets: {', '.join(PRESETS.names())}\n"
    rows = fields_help(
        field_rows(PriorsConfig, skip=("dataset",)),
        "settings (every field of PriorsConfig; --config FILE gives them as YAML):",
    )
    return f"{EXAMPLES}\n{known}\n{rows}"


def command(
    ctx: typer.Context,
    dataset: str = typer.Argument(..., help="dataset adapter (listed below)"),
    config: Path | None = typer.Option(None, "--config", help="YAML file of settings (any field below)"),
) -> None:
    """Generate priors, text and visual features and the manifest for DATASET.

    Reads the annotation files of DATASET and its videos; writes prior rows, text (and visual)
    features into the content-addressed cache, the manifest and a run report. Every setting below
    is a flag; the examples show the common ones."""
    from pipeline.graph import run_priors

    settings = layered(PriorsConfig, config, ctx.args, {"dataset": dataset})
    report = run_priors(settings)
    print(report.table())


def register(app: typer.Typer) -> None:
    app.command("run", context_settings=CONTEXT, epilog=_epilog())(command)
