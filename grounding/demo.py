"""``make demo``'s last step: train ``span`` and ``tea`` on the demo priors, evaluate both on the
demo test split next to the constant-span baseline, print the table and write timeline PNGs.

Run it after ``make priors DATASET=demo`` (``make demo`` does both)::

    python -m grounding.demo [--manifest manifests/demo.parquet] [--out runs/demo]
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from grounding.baselines import ConstantSpan
from grounding.config import load_config
from grounding.data.dataset import read_manifest
from grounding.evaluation import evaluate_predictions
from grounding.run_eval import evaluate_checkpoint, ground_truth_rows
from grounding.train import fit

COLUMNS = ("R1@0.5", "R1@0.7", "mIoU")


def constant_baseline(manifest: Path, train: str, test: str) -> dict[str, Any]:
    """Fit the best fixed window on ``train`` and score it on ``test``."""
    rows = read_manifest(manifest).rows
    fit_rows = [r for r in rows if r["split"] == train and r["windows"]]
    span = ConstantSpan.fit([r["windows"][0] for r in fit_rows], [r["duration"] for r in fit_rows])
    gt = [g for g in ground_truth_rows([r for r in rows if r["split"] == test]) if g["relevant_windows"]]
    preds = [{"qid": g["qid"], "query": g["query"], "vid": g["vid"], "pred_relevant_windows": [span.predict(g["duration"])]}
             for g in gt]
    return {"window": [span.start, span.end]} | evaluate_predictions(preds, gt)


def table(results: dict[str, dict[str, Any]]) -> str:
    lines = [f"{'method':<22}" + "".join(f"{c:>9}" for c in COLUMNS)]
    for name, res in results.items():
        lines.append(f"{name:<22}" + "".join(f"{res['metrics'][c]:>9.2f}" for c in COLUMNS))
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m grounding.demo", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--manifest", type=Path, default=Path("manifests/demo.parquet"))
    p.add_argument("--configs", nargs="+", type=Path,
                   default=[Path("configs/span_demo.yaml"), Path("configs/tea_demo.yaml")])
    p.add_argument("--out", type=Path, default=Path("runs/demo"), help="run folders, predictions, PNGs")
    p.add_argument("--plots", type=int, default=4, help="timeline PNGs to write (test queries)")
    p.add_argument("--no-progress", action="store_true")
    args = p.parse_args(argv)
    if not args.manifest.is_file():
        p.error(f"{args.manifest} does not exist: run `make priors DATASET=demo` first")

    results: dict[str, dict[str, Any]] = {}
    runs: dict[str, Path] = {}
    for path in args.configs:
        cfg = load_config(path, {"data": {"manifest": str(args.manifest)}})
        name = cfg.model.name
        cfg = cfg.model_copy(update={"out_dir": args.out / name})
        print(f"training {name} ({path}) ...", flush=True)
        fit(cfg, progress=not args.no_progress)
        runs[name] = cfg.out_dir
        results[name] = evaluate_checkpoint(cfg.out_dir, cfg.data.test_split)
    test_split = cfg.data.test_split
    results["constant span (train)"] = constant_baseline(args.manifest, cfg.data.train_split, test_split)

    print(f"\ndemo test split ({results['constant span (train)']['counts']['gt']} queries)")
    print(table(results))
    base = results["constant span (train)"]["metrics"]
    beaten = {n: all(results[n]["metrics"][c] > base[c] for c in ("R1@0.5", "mIoU")) for n in runs}
    (args.out / "summary.json").write_text(json.dumps({"results": results, "beats_constant": beaten}, indent=2))

    from grounding.plot import plot_prediction
    from grounding.predict import Predictor

    model = "tea" if "tea" in runs else next(iter(runs))
    predictor = Predictor.from_checkpoint(runs[model])
    test_rows = [r for r in predictor.info.rows if r["split"] == test_split][: args.plots]
    for r in test_rows:
        png = plot_prediction(predictor.explain(r["video_id"], r["query"]), args.out / "plots", r["windows"])
        print(f"wrote {png}")
    print(f"summary: {args.out / 'summary.json'}")
    for name, ok in beaten.items():
        print(f"{name}: {'beats' if ok else 'does NOT beat'} the constant-span baseline on R1@0.5 and mIoU")
    return 0 if all(beaten.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
