"""``make demo``'s last step: train every method of the demo plan on the demo priors over a few
seeds, score each on the demo's test split next to the constant-span baseline, print the table,
write ``summary.json`` and timeline PNGs. Run it after ``make priors DATASET=demo``::

    python -m grounding.demo [--plan configs/demo.yaml] [--out runs/demo] [--seeds 0 1 2]

The plan (``configs/demo.yaml``) lists the rows: one per method with a demo config
(``configs/<method>_demo.yaml``) and the ablations that carry the product's claim (TEA without its
narratives). A row with no ``variant`` is a method's default row; the demo fails (exit code 1)
when a default row does not beat the constant baseline on R1@0.5 and mIoU (means over seeds).

``summary.json`` holds the same table for scripts: ``rows`` (one per (method, variant), each
``{method, variant, seeds, metrics: {...means}, spread: {...standard deviations}, beats_constant}``;
the constant baseline is a row too), ``test_queries``, ``wall_seconds``, ``verdict``.
"""

from __future__ import annotations

import json
import statistics
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import typer
from pydantic import BaseModel, ConfigDict, Field

from grounding.baselines import ConstantSpan
from grounding.config import TrainConfig, load_config
from grounding.evaluation import evaluate_predictions
from grounding.run_eval import evaluate_checkpoint, evaluate_untrained, ground_truth_rows
from groundwork.atomic import atomic_write_text
from groundwork.cache.manifest import read_manifest
from groundwork.cli import new_app, run_app
from groundwork.errors import InputError, MissingInputError

COLUMNS = ("R1@0.5", "R1@0.7", "mIoU")
VERDICT = ("R1@0.5", "mIoU")  # a method beats the constant baseline on both means
CONSTANT = "constant span (train)"


class DemoRow(BaseModel):
    """One row of the table: a training config, optionally changed (an ablation ``variant``)."""

    model_config = ConfigDict(extra="forbid")

    config: Path = Field(description="a configs/<method>_demo.yaml file")
    variant: str = Field("", description="empty for the method's default row; names an ablation otherwise")
    overrides: dict[str, Any] = Field(default_factory=dict, description="nested config values changed by the variant")


class DemoPlan(BaseModel):
    model_config = ConfigDict(extra="forbid")

    manifest: Path = Field(Path("manifests/demo.parquet"), description="the demo's priors manifest")
    seeds: list[int] = Field(default_factory=lambda: [0, 1, 2], min_length=1)
    rows: list[DemoRow] = Field(min_length=1)


def load_plan(path: Path) -> DemoPlan:
    from groundwork.settings import build, load_yaml

    return build(DemoPlan, load_yaml(path), str(path))


def constant_baseline(manifest: Path, train: str, test: str) -> dict[str, Any]:
    """Fit the best fixed window on ``train`` and score it on ``test``."""
    rows = read_manifest(manifest).rows
    fit_rows = [r for r in rows if r["split"] == train and r["windows"]]
    span = ConstantSpan.fit([r["windows"][0] for r in fit_rows], [r["duration"] for r in fit_rows])
    gt = [g for g in ground_truth_rows([r for r in rows if r["split"] == test]) if g["relevant_windows"]]
    preds = [{"qid": g["qid"], "query": g["query"], "vid": g["vid"], "pred_relevant_windows": [span.predict(g["duration"])]}
             for g in gt]
    return {"window": [span.start, span.end]} | evaluate_predictions(preds, gt)


def _config(row: DemoRow, manifest: Path, seed: int, out: Path) -> TrainConfig:
    values = {**row.overrides, "data": {**row.overrides.get("data", {}), "manifest": str(manifest)}, "seed": seed,
              "out_dir": str(out)}
    return load_config(row.config, values)


def _name(cfg: TrainConfig, row: DemoRow) -> str:
    return cfg.model.name + (f" ({row.variant})" if row.variant else "")


def _slug(text: str) -> str:
    return "".join(c if c.isalnum() else "-" for c in text).strip("-")


def run_row(row: DemoRow, manifest: Path, seeds: Sequence[int], out: Path, progress: bool) -> dict[str, Any]:
    """Train (or, for a zero-shot method, just run) one row once per seed and score it on the
    test split: means and standard deviations of every metric."""
    from grounding.models import MODELS
    from grounding.train import fit

    per_seed, runs = [], []
    for seed in seeds:
        probe = _config(row, manifest, seed, out)
        folder = out / _slug(f"{probe.model.name}-{row.variant}" if row.variant else probe.model.name) / f"seed{seed}"
        cfg = _config(row, manifest, seed, folder)
        if MODELS.get(cfg.model.name).trainable:
            fit(cfg, progress=progress)
            result = evaluate_checkpoint(folder, cfg.data.test_split)
        else:
            result = evaluate_untrained(cfg, cfg.data.test_split, folder / f"preds_{cfg.data.test_split}.jsonl")
        per_seed.append(result["metrics"])
        runs.append(str(folder))
    keys = [k for k, v in per_seed[0].items() if isinstance(v, int | float) and k != "n"]
    means = {k: round(statistics.fmean(m[k] for m in per_seed), 2) for k in keys}
    spread = {k: round(statistics.stdev(m[k] for m in per_seed), 2) if len(per_seed) > 1 else 0.0 for k in keys}
    return {"method": cfg.model.name, "variant": row.variant, "seeds": list(seeds), "metrics": means, "spread": spread,
            "runs": runs, "test_split": cfg.data.test_split}


def table(rows: list[dict[str, Any]], columns: Sequence[str] = COLUMNS) -> str:
    """The demo table: one line per row, ``mean ±spread`` per column."""
    name = max(len(_label(r)) for r in rows) + 2
    lines = [f"{'method':<{name}}" + "".join(f"{c:>16}" for c in columns)]
    for r in rows:
        cells = []
        for c in columns:
            spread = r["spread"].get(c, 0.0)
            cells.append(f"{r['metrics'][c]:>9.2f}" + (f" ±{spread:<5.2f}" if len(r["seeds"]) > 1 else " " * 7))
        lines.append(f"{_label(r):<{name}}" + "".join(cells))
    return "\n".join(lines)


def _label(row: dict[str, Any]) -> str:
    return row["method"] + (f" ({row['variant']})" if row["variant"] else "")


def beats(row: dict[str, Any], constant: dict[str, Any]) -> bool:
    return all(row["metrics"][k] > constant["metrics"][k] for k in VERDICT)


def _plots(rows: list[dict[str, Any]], out: Path, n: int) -> list[Path]:
    """Timeline PNGs of the first ``n`` test queries, for each method's default row (first seed)."""
    from grounding.plot import plot_prediction
    from grounding.predict import Predictor

    written = []
    for row in rows:
        if row["variant"] or not row.get("runs") or not (Path(row["runs"][0]) / "best").exists():
            continue
        predictor = Predictor.from_checkpoint(row["runs"][0])
        test_rows = [r for r in predictor.info.rows if r["split"] == row["test_split"]][:n]
        for r in test_rows:
            written.append(plot_prediction(predictor.explain(r["video_id"], r["query"]), out / "plots" / row["method"],
                                           r["windows"]))
    return written


def run_demo(plan: DemoPlan, out: Path, seeds: Sequence[int] | None = None, only: Sequence[str] = (),
             plots: int = 4, progress: bool = True) -> dict[str, Any]:
    """Every row of ``plan`` (or only the methods named in ``only``), the constant baseline, the
    verdict; writes ``out/summary.json``."""
    if not plan.manifest.is_file():
        msg = f"{plan.manifest} does not exist: run `make priors DATASET=demo` first"
        raise MissingInputError(msg)
    started = time.perf_counter()
    seeds = list(seeds or plan.seeds)
    rows = []
    for row in plan.rows:
        cfg = _config(row, plan.manifest, seeds[0], out)
        if only and cfg.model.name not in only:
            continue
        print(f"{_name(cfg, row)}: {row.config}, seeds {seeds} ...", flush=True)
        rows.append(run_row(row, plan.manifest, seeds, out, progress))
    if not rows:
        msg = f"no row of the plan matches {list(only)}"
        raise InputError(msg)
    first = _config(plan.rows[0], plan.manifest, seeds[0], out)
    base = constant_baseline(plan.manifest, first.data.train_split, first.data.test_split)
    constant = {"method": CONSTANT, "variant": "", "seeds": [], "metrics": {k: v for k, v in base["metrics"].items() if k != "n"},
                "spread": {}, "window": base["window"]}
    failing = []
    for row in rows:
        row["beats_constant"] = beats(row, constant)
        if not row["variant"] and not row["beats_constant"]:
            failing.append(_label(row))
    summary = {"rows": [*rows, constant], "test_queries": base["counts"]["gt"], "seeds": seeds,
               "wall_seconds": round(time.perf_counter() - started, 1),
               "verdict": {"beat_constant": VERDICT, "failing": failing}}
    out.mkdir(parents=True, exist_ok=True)
    atomic_write_text(out / "summary.json", json.dumps(summary, indent=2))
    summary["plots"] = [str(p) for p in _plots(rows, out, plots)] if plots else []
    return summary


app = new_app("Train and score the demo plan's methods; print the table.")


@app.command()
def command(plan: Path = typer.Option(Path("configs/demo.yaml"), "--plan", help="the demo plan (rows, seeds)"),
            manifest: Path | None = typer.Option(None, "--manifest", help="the demo manifest (default: the plan's)"),
            out: Path = typer.Option(Path("runs/demo"), "--out", help="run folders, summary.json, plots/"),
            seeds: list[int] | None = typer.Option(None, "--seed", help="seeds to run (repeat; default: the plan's)"),
            only: list[str] | None = typer.Option(None, "--only", help="only these methods (repeat)"),
            plots: int = typer.Option(4, "--plots", help="timeline PNGs per method (test queries)"),
            no_progress: bool = typer.Option(False, "--no-progress", help="no progress bars")) -> None:
    """Train every method of the demo plan over its seeds, score them on the demo's test split
    beside the constant-span baseline, print the table; exit 1 when a method does not beat it.

    Reads the plan, its configs and the demo manifest; writes OUT/<method>/seed<k>/ run folders,
    OUT/summary.json and OUT/plots/. Example: python -m grounding.demo --only tea --seed 0"""
    loaded = load_plan(plan)
    if manifest is not None:
        loaded = loaded.model_copy(update={"manifest": manifest})
    summary = run_demo(loaded, out, seeds, only or (), plots, progress=not no_progress)
    seeds_used = summary["seeds"]
    print(f"\ndemo test split ({summary['test_queries']} queries; mean ±sd over {len(seeds_used)} seeds)")
    print(table(summary["rows"]))
    for path in summary["plots"]:
        print(f"wrote {path}")
    print(f"summary: {out / 'summary.json'}  ({summary['wall_seconds']:.0f} s)")
    for row in summary["rows"][:-1]:
        verdict = "beats" if row["beats_constant"] else "does NOT beat"
        print(f"{_label(row)}: {verdict} the constant-span baseline on {' and '.join(VERDICT)}")
    if summary["verdict"]["failing"]:
        raise typer.Exit(1)


def main(argv: Sequence[str] | None = None) -> int:
    return run_app(app, argv, "python -m grounding.demo")


if __name__ == "__main__":
    sys.exit(main())
