"""``priors export MANIFEST --out DIR [--vectors]``: the manifest's priors as a Hugging Face
dataset folder, one clean table per split (``pipeline.export``)."""

from __future__ import annotations

import json
from pathlib import Path

import typer

from pipeline.export import write_export


def command(
    manifest: Path = typer.Argument(..., help="the manifest, manifests/<dataset>.parquet"),
    out: Path = typer.Option(..., "--out", help="folder to write (a new one, or an earlier export)"),
    cache_dir: str | None = typer.Option(None, "--cache-dir", help="the cache (default: the one the manifest records)"),
    vectors: bool = typer.Option(False, "--vectors", help="add the text encoder's sentence vectors"),
    as_json: bool = typer.Option(False, "--json", help="print the counts as JSON"),
) -> None:
    """Write the priors of MANIFEST as a dataset: one row per query, its windows and the texts of
    every prior the manifest lists for it (each once, ok rows only).

    Reads the manifest and its cache; writes DIR (replaced as a whole): a `datasets` folder for
    datasets.load_from_disk(DIR), DIR/data/<split>-*.parquet for load_dataset("parquet", ...),
    and a README.md dataset card (model, prompt versions, encoder, counts, error counts) ready to
    push to a hub. Example: priors export manifests/demo.parquet --out exports/demo --vectors"""
    export = write_export(manifest, out, cache_dir, vectors)
    if as_json:
        print(json.dumps({"out": str(out), **export.counts}, indent=2))
        return
    c = export.counts
    print(f"exported {export.dataset} to {out}: " + ", ".join(f"{s} {n} queries" for s, n in c["queries"].items()))
    for kind, per_split in c["priors"].items():
        errors = sum(e["rows"] for e in c["errors"][kind])
        print(
            f"  {kind:<14} "
            + ", ".join(f"{s} {n}" for s, n in per_split.items())
            + f"  ({c['unique_prior_rows'][kind]} unique rows; {errors} error rows not exported)"
        )


def register(app: typer.Typer) -> None:
    app.command("export")(command)
