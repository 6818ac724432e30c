"""``make demo``'s last step: train every method of the demo plan on the demo priors over a few
seeds, score each on the demo's test split next to the constant-span baseline, print the table,
write ``summary.json`` and timeline PNGs. Run it after ``make priors DATASET=demo``::

    python -m grounding.demo [--plan configs/demo.yaml] [--out runs/demo] [--seed 0 --seed 1] [--jobs 2]

Every (row, seed) is one run; ``--jobs`` runs that many at a time, each in its own process (the
demo configs train on one thread, so one job per core fills the machine).

The plan (``configs/demo.yaml``) lists the rows: one per method with a demo config
(``configs/<method>_demo.yaml``) and the ablations that carry the product's claim (TEA without its
narratives). A row with no ``variant`` is a method's default row; the demo fails (exit code 1)
when a default row does not beat the constant baseline on R1@0.5 and mIoU (means over seeds), or
beats it by giving the queries of a video the same window: its ``repeats`` column
(``same_window``: how often a query's top-1 window repeats another query's in the same video,
``grounding.metrics.temporal.same_window_share``; 100 for the constant) above ``COLLAPSED`` (50 %). A
val-chosen checkpoint trained on few queries can beat the train-fitted constant that way, with a
better constant. A row may name its own ``seeds`` (fewer for an expensive row); the table says
how many it ran. A row with ``same_as`` (TEA without its narratives: the span network) shows
another row's runs instead of training the same network again; the demo checks first that the
two would train alike (``same_runs``).

``summary.json`` holds the same table for scripts: ``rows`` (one per (method, variant), each
``{method, variant, seeds, metrics: {...means}, spread: {...standard deviations}, beats_constant,
collapsed}``;
``seconds``, the CPU-side seconds of its runs; the constant baseline is a row too), ``test_queries``,
``jobs``, ``wall_seconds``, ``verdict``.

Spatio-temporal rows (the plan's ``stvg`` section: ``bridge_stg`` and its baselines on the STVG
demo, ``make priors DATASET=demo_stvg``) train on their own manifest and seeds and are scored with
the STVG metrics (``grounding.stvg_eval``: ``m_tIoU``, ``m_vIoU``, ``vIoU@0.3``, ``vIoU@0.5`` per
sentence type, TubeDETR's protocol) in a second table. Their summary rows carry ``section:
"stvg"``, those metric keys (``declarative/m_vIoU``, ..., and the pooled ``m_vIoU``) and
``beats_baseline``: a row without ``variant`` must beat the section's baseline row (the variant
named ``baseline``, ``whole_frame``: the temporal branch with whole-frame boxes) on ``m_vIoU``, or
the demo fails.
"""

from __future__ import annotations

import json
import os
import statistics
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import typer
from pydantic import BaseModel, ConfigDict, Field

from grounding import evaluation
from grounding.baselines import ConstantSpan
from grounding.config import TrainConfig, load_config
from grounding.evaluation import COLLAPSED, evaluate_predictions
from grounding.run_eval import evaluate_checkpoint, evaluate_untrained, ground_truth_rows
from groundwork.atomic import atomic_write_text
from groundwork.cache.manifest import read_manifest
from groundwork.cli import new_app, run_app
from groundwork.errors import InputError, MissingInputError

COLUMNS = ("R1@0.5", "R1@0.7", "mIoU", "same_window")
HEADERS = {"same_window": "repeats"}  # a column's header, where not its key
STVG_TYPES = ("declarative", "interrogative")
STVG_METRICS = ("m_tIoU", "m_vIoU", "vIoU@0.3", "vIoU@0.5")
STVG_VERDICT = "m_vIoU"  # an STVG method beats the section's baseline row on this (pooled over sentence types)
VERDICT = ("R1@0.5", "mIoU")  # a method beats the constant baseline on both means
# ... and repeats a top-1 window across the queries of a video at most COLLAPSED % (mean over seeds;
# ``grounding.evaluation``). Above it, a row that beats the constant did so with a better constant:
# it learned where moments lie, not what the query says. Published models on QVHighlights val
# repeat 6-10 % (CG-DETR, Moment-DETR); its ground truth 19 %.
CONSTANT = "constant span (train)"


class DemoRow(BaseModel):
    """One row of the table: a training config, optionally changed (an ablation ``variant``)."""

    model_config = ConfigDict(extra="forbid")

    config: Path = Field(description="a configs/<method>_demo.yaml file")
    manifest: Path | None = Field(None, description="the row's own manifest (default: its section's)")
    variant: str = Field("", description="empty for the method's default row; names an ablation otherwise")
    overrides: dict[str, Any] = Field(default_factory=dict, description="nested config values changed by the variant")
    seeds: list[int] | None = Field(
        None, min_length=1, description="this row's seeds (default: its section's; fewer for an expensive row)"
    )
    gate: bool = Field(
        True,
        description="a default row must beat the baseline or the demo fails; false: it is shown and scored but "
        "not required to (the plan says why: a method that does not learn the demo yet)",
    )
    same_as: str = Field(
        "",
        description="the label of another row of the section (e.g. 'span') whose runs this row's would repeat "
        "exactly: the same network, parameters at every seed and training settings. Its figures are that "
        "row's, not trained again; the demo checks the claim first (``same_runs``) and stops with an error "
        "when it does not hold. Without that row in the run (--only) the row trains itself.",
    )


class StvgSection(BaseModel):
    """The spatio-temporal rows: their manifest, seeds, the baseline they must beat on m_vIoU."""

    model_config = ConfigDict(extra="forbid")

    manifest: Path = Field(Path("manifests/demo_stvg.parquet"), description="the STVG demo's priors manifest")
    seeds: list[int] = Field(default_factory=lambda: [0], min_length=1)
    rows: list[DemoRow] = Field(min_length=1)
    baseline: str = Field("whole_frame", description="the variant every default row must beat on m_vIoU")


class DemoPlan(BaseModel):
    model_config = ConfigDict(extra="forbid")

    manifest: Path = Field(Path("manifests/demo.parquet"), description="the demo's priors manifest")
    seeds: list[int] = Field(default_factory=lambda: [0, 1, 2], min_length=1)
    rows: list[DemoRow] = Field(min_length=1)
    stvg: StvgSection | None = Field(None, description="spatio-temporal rows on their own manifest")


def load_plan(path: Path) -> DemoPlan:
    from groundwork.settings import build, load_yaml

    return build(DemoPlan, load_yaml(path), str(path))


def constant_baseline(manifest: Path, train: str, test: str) -> dict[str, Any]:
    """Fit the best fixed window on ``train`` and score it on ``test``."""
    rows = read_manifest(manifest).rows
    fit_rows = [r for r in rows if r["split"] == train and r["windows"]]
    span = ConstantSpan.fit([r["windows"][0] for r in fit_rows], [r["duration"] for r in fit_rows])
    gt = [g for g in ground_truth_rows([r for r in rows if r["split"] == test]) if g["relevant_windows"]]
    preds = [
        {"qid": g["qid"], "query": g["query"], "vid": g["vid"], "pred_relevant_windows": [span.predict(g["duration"])]}
        for g in gt
    ]
    result = evaluate_predictions(preds, gt)
    result["metrics"] = _temporal_metrics(result)  # same_window 100: one window per video
    return {"window": [span.start, span.end]} | result


def _config(row: DemoRow, manifest: Path, seed: int, out: Path) -> TrainConfig:
    manifest = row.manifest or manifest
    values = {
        **row.overrides,
        "data": {**row.overrides.get("data", {}), "manifest": str(manifest)},
        "seed": seed,
        "out_dir": str(out),
    }
    return load_config(row.config, values)


def same_runs(a: TrainConfig, b: TrainConfig) -> str:
    """Why training ``a`` and ``b`` would not give the same runs ('' when it would): their settings
    outside the model differ, or their models, built at the same seed, differ in what they read or
    in any parameter (name, shape or value). Their forward passes on equal parameters are the
    models' own tests' concern (``test_tea_baseline_equals_span_with_the_same_weights``)."""
    import torch

    from grounding.models import build_model
    from grounding.train import model_args

    skip = {"model", "out_dir"}
    da, db = a.model_dump(exclude=skip), b.model_dump(exclude=skip)
    if da != db:
        return f"their training settings differ ({', '.join(sorted(k for k in da if da[k] != db[k]))})"
    models = []
    for cfg in (a, b):
        torch.manual_seed(cfg.seed)
        models.append(build_model(cfg.model.name, **model_args(cfg, 16, 12)))
    ma, mb = models
    if (ma.required_keys, ma.loss_keys) != (mb.required_keys, mb.loss_keys):
        return f"they read different inputs ({sorted(ma.required_keys)} vs {sorted(mb.required_keys)})"
    sa, sb = ma.state_dict(), mb.state_dict()
    names = sorted(set(sa) ^ set(sb)) or [k for k in sa if not torch.equal(sa[k], sb[k])]  # shape or value
    if names:
        return f"their parameters differ ({', '.join(names[:4])}{', ...' if len(names) > 4 else ''})"
    return ""


def _temporal_metrics(result: dict[str, Any]) -> dict[str, Any]:
    """The temporal suite plus ``same_window`` (``grounding.evaluation``'s diagnostics)."""
    return result["metrics"] | {"same_window": result["diagnostics"]["same_window"]}


def _stvg_metrics(result: dict[str, Any]) -> dict[str, Any]:
    """The STVG numbers of an ``evaluate_checkpoint`` result (``grounding.stvg_eval.flat_metrics``)."""
    from grounding.stvg_eval import flat_metrics

    if "stvg" not in result:
        msg = (
            f"{result.get('checkpoint')}: no STVG scores (the model's predictions carry no boxes, or the "
            "manifest has no STVG block / tube table: build it with `make priors DATASET=demo_stvg`)"
        )
        raise InputError(msg)
    return flat_metrics(result["stvg"])


def _name(cfg: TrainConfig, row: DemoRow) -> str:
    return cfg.model.name + (f" ({row.variant})" if row.variant else "")


def _slug(text: str) -> str:
    return "".join(c if c.isalnum() else "-" for c in text).strip("-")


@dataclass(frozen=True)
class Unit:
    """One training (or zero-shot) run of the plan: a row on one seed."""

    row: DemoRow
    manifest: Path
    seed: int
    out: Path
    stvg: bool = False


def run_unit(unit: Unit, progress: bool = True) -> dict[str, Any]:
    """Train (or, for a zero-shot method, just run) one row on one seed and score it on the test
    split: ``{method, test_split, run, metrics, seconds}`` (metrics: the temporal suite, or the
    STVG one for a spatio-temporal row). A top-level function, so a worker process can run it."""
    from grounding.models import MODELS
    from grounding.train import fit

    started = time.perf_counter()
    row, seed = unit.row, unit.seed
    probe = _config(row, unit.manifest, seed, unit.out)
    folder = unit.out / _slug(f"{probe.model.name}-{row.variant}" if row.variant else probe.model.name) / f"seed{seed}"
    cfg = _config(row, unit.manifest, seed, folder)
    if MODELS.get(cfg.model.name).trainable:
        fit(cfg, progress=progress)
        result = evaluate_checkpoint(folder, cfg.data.test_split)
    else:
        result = evaluate_untrained(cfg, cfg.data.test_split, folder / f"preds_{cfg.data.test_split}.jsonl")
    metrics = _stvg_metrics(result) if unit.stvg else _temporal_metrics(result)
    return {
        "method": cfg.model.name,
        "test_split": cfg.data.test_split,
        "run": str(folder),
        "metrics": metrics,
        "seconds": round(time.perf_counter() - started, 1),
    }


def run_units(units: Sequence[Unit], jobs: int = 1, progress: bool = True) -> list[dict[str, Any]]:
    """``run_unit`` over ``units``, results in the same order. ``jobs > 1``: that many worker
    processes (spawned: each trains with its config's ``threads``), the spatio-temporal and
    trained units first (the longest), a line printed as each ends; a unit that fails stops the
    demo with its error."""
    if jobs <= 1 or len(units) <= 1:
        return [run_unit(u, progress) for u in units]
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor, as_completed

    from grounding.models import MODELS

    def cost(i: int) -> tuple[int, int]:
        u = units[i]
        trained = MODELS.get(_config(u.row, u.manifest, u.seed, u.out).model.name).trainable
        return (0 if u.stvg else 1, 0 if trained else 1)

    results: list[dict[str, Any] | None] = [None] * len(units)
    with ProcessPoolExecutor(max_workers=jobs, mp_context=multiprocessing.get_context("spawn")) as pool:
        futures = {pool.submit(run_unit, units[i], False): i for i in sorted(range(len(units)), key=cost)}
        for done, future in enumerate(as_completed(futures), 1):
            i = futures[future]
            results[i] = result = future.result()
            label = result["method"] + (f" ({units[i].row.variant})" if units[i].row.variant else "")
            print(f"  [{done}/{len(units)}] {label}, seed {units[i].seed}: {result['seconds']:.0f} s", flush=True)
    return results  # type: ignore[return-value]


def row_summary(row: DemoRow, results: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """A row's seeds together: means and standard deviations of every metric."""
    per_seed = [r["metrics"] for r in results]
    keys = [k for k, v in per_seed[0].items() if isinstance(v, int | float) and k != "n"]
    means = {k: round(statistics.fmean(m[k] for m in per_seed), 2) for k in keys}
    spread = {k: round(statistics.stdev(m[k] for m in per_seed), 2) if len(per_seed) > 1 else 0.0 for k in keys}
    return {
        "method": results[0]["method"],
        "variant": row.variant,
        "seeds": [int(Path(r["run"]).name.removeprefix("seed")) for r in results],
        "metrics": means,
        "spread": spread,
        "runs": [r["run"] for r in results],
        "seconds": round(sum(r["seconds"] for r in results), 1),
        "gate": row.gate,
        "test_split": results[0]["test_split"],
    }


def run_row(
    row: DemoRow, manifest: Path, seeds: Sequence[int], out: Path, progress: bool, stvg: bool = False
) -> dict[str, Any]:
    """One row over its seeds, in this process (``run_units`` runs a whole plan in parallel)."""
    return row_summary(row, run_units([Unit(row, manifest, s, out, stvg) for s in row.seeds or seeds], 1, progress))


def _mark_stvg(rows: list[dict[str, Any]], section: StvgSection) -> list[dict[str, Any]]:
    """Each STVG row marked ``beats_baseline`` (None for the baseline row itself, or without one)."""
    base = next((r for r in rows if r["variant"] == section.baseline), None)
    for r in rows:
        r["section"] = "stvg"
        r["beats_baseline"] = (
            None if base is None or r is base else r["metrics"][STVG_VERDICT] > base["metrics"][STVG_VERDICT]
        )
    return rows


def table(rows: list[dict[str, Any]], columns: Sequence[str] = COLUMNS) -> str:
    """The demo table: one line per row, ``mean ±spread`` per column (``-`` where a row lacks it:
    a summary written before the column existed)."""
    name = max(len(_label(r)) for r in rows) + 2
    widths = [max(9, len(HEADERS.get(c, c))) for c in columns]
    lines = [
        f"{'method':<{name}}"
        + "".join(f"{HEADERS.get(c, c):>{w}}       " for c, w in zip(columns, widths))
        + f"{'seeds':>7}"
    ]
    for r in rows:
        cells = []
        for c, w in zip(columns, widths):
            spread, value = r["spread"].get(c, 0.0), r["metrics"].get(c)
            if value is None:
                cells.append(f"{'-':>{w}}" + " " * 7)
                continue
            cells.append(f"{value:>{w}.2f}" + (f" ±{spread:<5.2f}" if len(r["seeds"]) > 1 else " " * 7))
        lines.append(f"{_label(r):<{name}}" + "".join(cells) + f"{len(r['seeds']) or '-':>7}")
    return "\n".join(lines)


def stvg_table(rows: list[dict[str, Any]]) -> str:
    """The STVG table: per sentence type, m_tIoU / m_vIoU / vIoU@0.3 / vIoU@0.5 (means over seeds)."""
    name = max(len(_label(r)) for r in rows) + 2
    types = [t for t in STVG_TYPES if any(f"{t}/m_vIoU" in r["metrics"] for r in rows)] or ["all"]
    width = 10 * len(STVG_METRICS)
    lines = [
        f"{'':<{name}}" + "".join(f"{t:^{width}}" for t in types),
        f"{'method':<{name}}" + "".join(f"{m:>10}" for _ in types for m in STVG_METRICS),
    ]
    for r in rows:
        cells = []
        for t in types:
            for m in STVG_METRICS:
                value = r["metrics"].get(m if t == "all" else f"{t}/{m}")
                cells.append(f"{value:>10.2f}" if value is not None else f"{'-':>10}")
        lines.append(f"{_label(r):<{name}}" + "".join(cells))
    return "\n".join(lines)


def _label(row: dict[str, Any]) -> str:
    return row["method"] + (f" ({row['variant']})" if row["variant"] else "")


def beats(row: dict[str, Any], constant: dict[str, Any]) -> bool:
    return all(row["metrics"][k] > constant["metrics"][k] for k in VERDICT)


def collapsed(row: dict[str, Any]) -> bool:
    """The row repeats top-1 windows across a video's queries more than ``COLLAPSED`` % (mean over seeds)."""
    return evaluation.collapsed(row["metrics"].get("same_window"))


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
            written.append(
                plot_prediction(
                    predictor.explain(r["video_id"], r["query"]), out / "plots" / row["method"], r["windows"]
                )
            )
    return written


def _reused(groups: Sequence[tuple[DemoRow, bool, list[Unit]]], names: Sequence[str], out: Path) -> dict[int, int]:
    """{row index: index of the row whose runs it reuses} for the rows with ``same_as`` whose row
    is in the run (``names``: each group's label); InputError when the claim does not hold."""
    index = {(stvg, names[i]): i for i, (_, stvg, _) in enumerate(groups)}
    reused = {}
    for i, (row, stvg, units) in enumerate(groups):
        j = index.get((stvg, row.same_as)) if row.same_as else None
        if j is None:
            continue
        other, _, other_units = groups[j]
        said = f"demo plan: '{names[i]}' has same_as '{row.same_as}'"
        if other.same_as:
            msg = f"{said}, which reuses another row's runs itself"
            raise InputError(msg)
        if [u.seed for u in units] != [u.seed for u in other_units]:
            msg = f"{said} but other seeds: give both rows the same seeds"
            raise InputError(msg)
        for u, v in zip(units, other_units):
            why = same_runs(_config(row, u.manifest, u.seed, out), _config(other, v.manifest, v.seed, out))
            if why:
                msg = f"{said}, but at seed {u.seed} {why}: drop same_as"
                raise InputError(msg)
        reused[i] = j
    return reused


def run_demo(
    plan: DemoPlan,
    out: Path,
    seeds: Sequence[int] | None = None,
    only: Sequence[str] = (),
    plots: int = 4,
    progress: bool = True,
    jobs: int = 1,
) -> dict[str, Any]:
    """Every row of ``plan`` (or only the methods named in ``only``) on its seeds (``seeds``
    replaces every row's), ``jobs`` runs at a time, the constant baseline, the verdict; writes
    ``out/summary.json``."""
    started = time.perf_counter()
    plan_seeds = list(seeds or plan.seeds)

    def pick(rows: Sequence[DemoRow], manifest: Path) -> list[DemoRow]:
        return [r for r in rows if not only or _config(r, manifest, 0, out).model.name in only]

    selected = pick(plan.rows, plan.manifest)
    stvg_selected = pick(plan.stvg.rows, plan.stvg.manifest) if plan.stvg is not None else []
    if not selected and not stvg_selected:
        msg = f"no row of the plan matches {list(only)}"
        raise InputError(msg)
    if selected and not plan.manifest.is_file():
        msg = f"{plan.manifest} does not exist: run `make priors DATASET=demo` first"
        raise MissingInputError(msg)
    if stvg_selected and not plan.stvg.manifest.is_file() and not all(r.manifest for r in stvg_selected):
        msg = f"{plan.stvg.manifest} does not exist: run `make priors DATASET=demo_stvg` first"
        raise MissingInputError(msg)

    groups: list[tuple[DemoRow, bool, list[Unit]]] = []
    for row in selected:
        row_seeds = list(seeds or row.seeds or plan.seeds)
        groups.append((row, False, [Unit(row, plan.manifest, s, out) for s in row_seeds]))
    for row in stvg_selected:
        row_seeds = list(seeds or row.seeds or plan.stvg.seeds)
        groups.append((row, True, [Unit(row, plan.stvg.manifest, s, out / "stvg", True) for s in row_seeds]))
    firsts = [_config(row, units[0].manifest, units[0].seed, out) for row, _, units in groups]
    names = [_name(cfg, row) for cfg, (row, _, _) in zip(firsts, groups)]
    reused = _reused(groups, names, out)
    for i, (row, stvg, units) in enumerate(groups):
        how = f"the runs of '{row.same_as}'" if i in reused else f"{row.config}, seeds {[u.seed for u in units]}"
        print(f"{names[i]}: {how}{' (STVG)' if stvg else ''}", flush=True)
    flat = [u for i, (_, _, units) in enumerate(groups) if i not in reused for u in units]
    results = iter(run_units(flat, jobs, progress))
    done = {
        i: row_summary(row, [next(results) for _ in units])
        for i, (row, _, units) in enumerate(groups)
        if i not in reused
    }
    for i, j in reused.items():
        row = groups[i][0]
        done[i] = done[j] | {
            "method": firsts[i].model.name,
            "variant": row.variant,
            "gate": row.gate,
            "same_as": row.same_as,
            "seconds": 0.0,  # nothing trained for it
        }
    summaries = [(done[i], stvg) for i, (_, stvg, _) in enumerate(groups)]
    rows = [r for r, stvg in summaries if not stvg]
    stvg_rows = _mark_stvg([r for r, stvg in summaries if stvg], plan.stvg) if stvg_selected else []

    failing, constant, test_queries = [], [], None
    if rows:
        first = _config(plan.rows[0], plan.manifest, plan_seeds[0], out)
        base = constant_baseline(plan.manifest, first.data.train_split, first.data.test_split)
        constant = [
            {
                "method": CONSTANT,
                "variant": "",
                "seeds": [],
                "spread": {},
                "window": base["window"],
                "metrics": {k: v for k, v in base["metrics"].items() if k != "n"},
            }
        ]
        test_queries = base["counts"]["gt"]
        for row in rows:
            row["beats_constant"] = beats(row, constant[0])
            row["collapsed"] = collapsed(row)
            if not row["variant"] and row["gate"] and (not row["beats_constant"] or row["collapsed"]):
                failing.append(_label(row))
    failing += [_label(r) for r in stvg_rows if not r["variant"] and r["gate"] and r["beats_baseline"] is False]
    summary = {
        "rows": [*rows, *constant, *stvg_rows],
        "test_queries": test_queries,
        "seeds": plan_seeds,
        "jobs": jobs,
        "wall_seconds": round(time.perf_counter() - started, 1),
        "verdict": {
            "beat_constant": VERDICT,
            "collapsed_above": COLLAPSED,
            "stvg_beat_baseline": STVG_VERDICT,
            "failing": failing,
        },
    }
    out.mkdir(parents=True, exist_ok=True)
    atomic_write_text(out / "summary.json", json.dumps(summary, indent=2))
    summary["plots"] = [str(p) for p in _plots([*rows, *stvg_rows], out, plots)] if plots else []
    return summary


app = new_app("Train and score the demo plan's methods; print the table.")


@app.command()
def command(
    plan: Path = typer.Option(Path("configs/demo.yaml"), "--plan", help="the demo plan (rows, seeds)"),
    manifest: Path | None = typer.Option(None, "--manifest", help="the demo manifest (default: the plan's)"),
    out: Path = typer.Option(Path("runs/demo"), "--out", help="run folders, summary.json, plots/"),
    seeds: list[int] | None = typer.Option(None, "--seed", help="seeds to run (repeat; default: the plan's)"),
    only: list[str] | None = typer.Option(None, "--only", help="only these methods (repeat)"),
    plots: int = typer.Option(4, "--plots", help="timeline PNGs per method (test queries)"),
    jobs: int = typer.Option(
        0, "--jobs", "-j", help="runs at a time, each in its own process (0: one per CPU core; 1: in this process)"
    ),
    report: bool = typer.Option(
        True, "--report/--no-report", help="write the browsable HTML report (OUT/report/index.html)"
    ),
    no_progress: bool = typer.Option(False, "--no-progress", help="no progress bars"),
    gate: bool = typer.Option(
        True,
        "--gate/--no-gate",
        help="exit 1 when a gated row fails; --no-gate prints the same verdicts and exits 0 "
        "(make demo NARRATOR=tiny-llava: a random-weight narrator's priors carry no information, "
        "so the rows that read them are not expected to win)",
    ),
) -> None:
    """Train every method of the demo plan over its seeds, score them on the demo's test split
    beside the constant-span baseline, print the table; exit 1 when a method does not beat it, or
    beats it by giving a video's queries the same window (the "repeats" column, above 50 %),
    unless --no-gate.

    Reads the plan, its configs and the demo manifest; writes OUT/<method>/seed<k>/ run folders,
    OUT/summary.json, OUT/plots/ and OUT/report/index.html (open it in a browser: every test
    query's video, timeline and priors). Example: python -m grounding.demo --only tea --seed 0"""
    loaded = load_plan(plan)
    if manifest is not None:
        loaded = loaded.model_copy(update={"manifest": manifest})
    jobs = jobs if jobs > 0 else (os.cpu_count() or 1)
    summary = run_demo(loaded, out, seeds, only or (), plots, progress=not no_progress, jobs=jobs)
    temporal = [r for r in summary["rows"] if r.get("section") != "stvg"]
    stvg = [r for r in summary["rows"] if r.get("section") == "stvg"]
    if temporal:
        print(f"\ndemo test split ({summary['test_queries']} queries; mean ±sd over each row's seeds)")
        print(table(temporal))
    if stvg:
        print(
            f"\nspatio-temporal demo test split (STVG metrics, TubeDETR protocol; mean over seeds {stvg[0]['seeds']})"
        )
        print(stvg_table(stvg))
    for path in summary["plots"]:
        print(f"wrote {path}")
    print(f"summary: {out / 'summary.json'}  ({summary['wall_seconds']:.0f} s)")
    if report:
        from grounding.report import write_demo_report

        print(f"report: {write_demo_report(out)}")
    for row in temporal[:-1]:
        verdict = "beats" if row["beats_constant"] else "does NOT beat"
        ungated = "" if row["gate"] or row["variant"] else " (not required: gate false in the plan)"
        one = (
            f", {'but' if row['beats_constant'] else 'and'} repeats its top-1 window across a video's queries "
            f"({row['metrics']['same_window']:.0f}% "
            f"repeats, above {COLLAPSED:.0f}%: it learned where moments lie, not the query)"
            if row["collapsed"]
            else ""
        )
        print(f"{_label(row)}: {verdict} the constant-span baseline on {' and '.join(VERDICT)}{one}{ungated}")
    for row in stvg:
        if row["beats_baseline"] is not None and not row["variant"]:
            verdict = "beats" if row["beats_baseline"] else "does NOT beat"
            print(f"{_label(row)}: {verdict} the {loaded.stvg.baseline} baseline on {STVG_VERDICT}")
    failing = summary["verdict"]["failing"]
    if failing and not gate:
        print(f"--no-gate: exit 0 although {', '.join(failing)} did not pass")
    elif failing:
        raise typer.Exit(1)


def main(argv: Sequence[str] | None = None) -> int:
    return run_app(app, argv, "python -m grounding.demo")


if __name__ == "__main__":
    sys.exit(main())
