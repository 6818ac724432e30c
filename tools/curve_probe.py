"""Does a trained model's query-dependent snippet curve generalise, or did it learn the training
videos by heart?

    .venv/bin/python tools/curve_probe.py runs/demo/qd-detr/seed0 runs/demo/span/seed0 [--splits train test]

For each run folder (its ``best/`` checkpoint, read like ``grounding-eval`` reads it) and each
split: the model's curve over the snippets (``GroundingModel.curves``: the DETR family's
saliency, span's and TEA's foreground gate h) scored against the snippets inside the query's
moment(s) (``grounding.data.targets.moment_mask``, the training targets' quantisation):

- ``AUC``: per query, the chance that a snippet of the moment scores above one outside it
  (ties count half), averaged over the queries that have both;
- ``peak in``: the share of queries whose highest-scoring snippet lies in the moment.

Beside them, the same two figures for the **position prior** of the training split (the share of
training queries whose moment covers each tenth of a video's length). It knows nothing of the
query, so it is the floor a query-reading curve must clear: a curve far above it on the training
split and level with it on the others learned the training videos, not what queries say.
This is what README's "The demo" reports for ``qd_detr`` and ``mesm``.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import torch
from scipy.stats import rankdata
from torch.utils.data import DataLoader

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from grounding.data.collate import collate  # noqa: E402
from grounding.data.targets import moment_mask  # noqa: E402
from grounding.run_eval import open_checkpoint_split  # noqa: E402
from groundwork.errors import UserError  # noqa: E402

CURVES = ("saliency", "foreground")  # the query-dependent curve to probe, first found
BINS = 10  # the position prior's resolution: tenths of a video


def auc(scores: np.ndarray, labels: np.ndarray) -> float | None:
    """P(score of a moment snippet > score of another), ties half; None without both kinds."""
    pos = labels > 0
    n_pos, n_neg = int(pos.sum()), int((~pos).sum())
    if n_pos == 0 or n_neg == 0:
        return None
    ranks = rankdata(scores)
    return float((ranks[pos].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


def bins_of(length: int) -> np.ndarray:
    return np.minimum(((np.arange(length) + 0.5) / length * BINS).astype(int), BINS - 1)


def split_curves(run: Path, split: str) -> tuple[str, list[tuple[np.ndarray, np.ndarray]]]:
    """(curve name, [(curve, labels) per query]) of a run's best checkpoint on ``split``."""
    opened = open_checkpoint_split(run, split)
    ckpt, model = opened.ckpt, opened.model.eval()
    loader = DataLoader(opened.dataset, batch_size=ckpt.config["optim"]["batch_size"], collate_fn=collate)
    name, out = "", []
    with torch.no_grad():
        for batch in loader:
            curves = model.curves(model(batch), batch)
            name = name or next((c for c in CURVES if c in curves[0]), "")
            if not name:
                msg = f"{run}: model '{ckpt.config['model']['name']}' draws none of the curves {', '.join(CURVES)}"
                raise UserError(msg)
            for curve, windows, duration in zip(curves, batch["windows"], batch["duration"].tolist(), strict=True):
                c = curve[name]
                out.append((c, moment_mask(windows, duration, len(c))))
    return name, out


def figures(pairs: list[tuple[np.ndarray, np.ndarray]]) -> tuple[float, float]:
    aucs = [a for c, y in pairs if (a := auc(c, y)) is not None]
    peaks = [float(y[int(np.argmax(c))] > 0) for c, y in pairs]
    return float(np.mean(aucs)), float(np.mean(peaks))


def probe(runs: list[Path], splits: list[str]) -> None:
    """Every run's curves first (a bad run folder fails before anything is printed), then the table."""
    curves = {run: {s: split_curves(run, s) for s in dict.fromkeys(["train", *splits])} for run in runs}
    print(f"{'run':34} {'split':6} {'curve':10} {'AUC':>6} {'peak in':>8}   {'prior AUC':>9} {'peak in':>8}")
    for run, by_split in curves.items():
        prior_sum, prior_n = np.zeros(BINS), np.zeros(BINS)
        for _, y in by_split["train"][1]:
            np.add.at(prior_sum, bins_of(len(y)), y)
            np.add.at(prior_n, bins_of(len(y)), 1)
        prior = prior_sum / np.maximum(prior_n, 1)
        for split in splits:
            name, pairs = by_split[split]
            a, p = figures(pairs)
            pa, pp = figures([(prior[bins_of(len(y))], y) for _, y in pairs])
            print(f"{str(run)[-34:]:34} {split:6} {name:10} {a:6.3f} {p:8.3f}   {pa:9.3f} {pp:8.3f}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("runs", nargs="+", type=Path, help="run folders (their best/) or checkpoint folders")
    parser.add_argument(
        "--splits", nargs="+", default=["train", "test"], help="splits to report (the prior is the training split's)"
    )
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    try:
        probe(args.runs, args.splits)
    except UserError as e:  # a missing run folder, a model without a curve: named, no traceback
        print(f"curve_probe: {e}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
