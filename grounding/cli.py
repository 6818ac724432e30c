"""The three grounding commands: ``grounding-train``, ``grounding-eval``, ``grounding-predict``."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

TRAIN_EXAMPLES = """examples:
  grounding-train --priors manifests/demo.parquet --config configs/tea_demo.yaml
  grounding-train --priors manifests/charades_sta.parquet --model tea --features /data/charades/i3d
  grounding-train --config configs/tea_charades.yaml --features /data/slowfast /data/clip \\
      --optim.lr 1e-3 --model.alpha 0.3 --optim.epochs 50

Any config field can be overridden with a dotted flag (--section.field VALUE); see
grounding/config.py for the fields and configs/ for the shipped files. Layers: defaults <- --config
YAML <- --priors/--model/--features/--out <- dotted flags. The best checkpoint is chosen on the
validation split (data.val_split) and written to OUT/best; OUT/last is for --resume."""

EVAL_EXAMPLES = """examples:
  grounding-eval --checkpoint runs/tea-demo --split test          # writes runs/tea-demo/preds_test.jsonl
  grounding-eval --preds preds.jsonl --gt gt.jsonl --json          # community JSONL files
  grounding-eval --checkpoint copied-run --priors manifests/charades_sta.parquet --features /data/i3d

Prediction rows: {"qid", "query", "vid", "pred_relevant_windows": [[start, end, score], ...]}.
Ground-truth rows: {"qid", "vid", "duration", "relevant_windows", optional "split",
"relevant_clip_ids", "saliency_scores"}; with saliency the full QVHighlights suite runs."""

PREDICT_EXAMPLES = """examples:
  grounding-predict --checkpoint runs/tea-demo --video demo_003 --query "a red ball rolls" --plot out/
  grounding-predict --checkpoint runs/tea-demo --input queries.jsonl --output preds.jsonl
  grounding-predict --checkpoint copied-run --priors manifests/demo.parquet --input q.jsonl  # run from another machine

--input rows: {"qid", "query", "vid"}; --output rows add "pred_relevant_windows" (top-k
[start, end, score], best first). A query already in the cache uses its cached text features; a
new one is embedded with the manifest's text encoder (pure torch, no transformers).
A checkpoint records the absolute paths of its manifest, features and cache; when they are not
there (a run folder copied from another machine) give --priors / --features / --cache-dir."""


def _parser(prog: str, doc: str, epilog: str) -> argparse.ArgumentParser:
    return argparse.ArgumentParser(prog=prog, description=doc, epilog=epilog,
                                   formatter_class=argparse.RawDescriptionHelpFormatter)


def train_main(argv: Sequence[str] | None = None) -> int:
    p = _parser("grounding-train", "Train a grounding model on a priors manifest and video features.", TRAIN_EXAMPLES)
    p.add_argument("--priors", type=Path, help="the manifest, manifests/<dataset>.parquet (data.manifest)")
    p.add_argument("--model", help="registered model name, e.g. span, tea (model.name)")
    p.add_argument("--features", nargs="+", help="feature folder(s)/file(s); several are concatenated (data.features)")
    p.add_argument("--config", type=Path, help="YAML config, e.g. configs/tea_demo.yaml")
    p.add_argument("--out", type=Path, help="run folder (out_dir); default runs/<model>-<dataset>")
    p.add_argument("--resume", action="store_true", help="continue OUT/last")
    p.add_argument("--no-progress", action="store_true", help="no progress bars")
    args, rest = p.parse_known_args(argv)
    from grounding.config import load_config, merge, parse_overrides
    from grounding.train import fit

    over: dict[str, Any] = {}
    if args.priors:
        over["data"] = {"manifest": str(args.priors)}
    if args.features:
        over.setdefault("data", {})["features"] = list(args.features)
    if args.model:
        over["model"] = {"name": args.model}
    if args.out:
        over["out_dir"] = str(args.out)
    try:
        over = merge(over, parse_overrides(rest))
        cfg = load_config(args.config, over)
    except (ValueError, FileNotFoundError) as err:
        p.error(str(err))
    result = fit(cfg, resume=args.resume, progress=not args.no_progress)
    print(json.dumps({"out_dir": str(result.out_dir), "best": result.best}, indent=2))
    return 0


def _add_data_overrides(p: argparse.ArgumentParser) -> None:
    """Flags that replace the input paths a checkpoint recorded (a run copied to another machine)."""
    g = p.add_argument_group("moved data (default: the paths recorded in the checkpoint)")
    g.add_argument("--priors", type=Path, help="the manifest to read instead of the recorded one")
    g.add_argument("--features", nargs="+", help="feature folder(s)/file(s) instead of the recorded ones")
    g.add_argument("--cache-dir", type=Path, help="the priors cache folder instead of the recorded one")


def eval_main(argv: Sequence[str] | None = None) -> int:
    p = _parser("grounding-eval", "Evaluate a checkpoint on a split, or a prediction file.", EVAL_EXAMPLES)
    p.add_argument("--checkpoint", type=Path, help="run folder (uses best/) or checkpoint folder")
    p.add_argument("--split", help="split to evaluate (default: the config's data.test_split)")
    p.add_argument("--preds", type=Path, help="prediction JSONL (file mode)")
    p.add_argument("--gt", type=Path, help="ground-truth JSONL (file mode)")
    p.add_argument("--out", type=Path, help="where to write predictions (checkpoint mode)")
    p.add_argument("--json", action="store_true", help="print the metrics as JSON")
    _add_data_overrides(p)
    args = p.parse_args(argv)
    from grounding.evaluation import evaluate_prediction_files, format_metrics
    from grounding.run_eval import evaluate_checkpoint

    if args.preds or args.gt:
        if not (args.preds and args.gt) or args.checkpoint:
            p.error("file mode needs both --preds and --gt (and no --checkpoint)")
        result = evaluate_prediction_files(args.preds, args.gt)
    elif args.checkpoint:
        try:
            result = evaluate_checkpoint(args.checkpoint, args.split, args.out, args.priors, args.features, args.cache_dir)
        except FileNotFoundError as err:
            p.error(str(err))
    else:
        p.error("give --checkpoint RUN [--split S], or --preds P.jsonl --gt G.jsonl")
    print(json.dumps(result, indent=2) if args.json else format_metrics(result))
    return 0


def predict_main(argv: Sequence[str] | None = None) -> int:
    p = _parser("grounding-predict", "Localise queries in videos with a trained checkpoint.", PREDICT_EXAMPLES)
    p.add_argument("--checkpoint", type=Path, required=True, help="run folder (uses best/) or checkpoint folder")
    p.add_argument("--video", help="video id (single-query mode)")
    p.add_argument("--query", help="the sentence to localise (single-query mode)")
    p.add_argument("--input", type=Path, help="JSONL of {qid, query, vid} (file mode)")
    p.add_argument("--output", type=Path, help="community JSONL to write (file mode; default stdout)")
    p.add_argument("-k", "--topk", type=int, default=5, help="windows per query (default 5)")
    p.add_argument("--plot", type=Path, help="folder for one timeline PNG per query")
    p.add_argument("--device", default="cpu", help="cpu, cuda, cuda:1, ... (default cpu)")
    _add_data_overrides(p)
    args = p.parse_args(argv)
    single = args.video is not None or args.query is not None
    if single == (args.input is not None) or (single and not (args.video and args.query)):
        p.error("give --video VID --query TEXT, or --input queries.jsonl")
    from grounding.predict import Predictor

    try:
        predictor = Predictor.from_checkpoint(args.checkpoint, device=args.device, manifest=args.priors,
                                              features=args.features, cache_dir=args.cache_dir)
    except FileNotFoundError as err:
        p.error(str(err))
    if single:
        rows = [{"qid": 0, "query": args.query, "vid": args.video}]
    else:
        rows = [json.loads(line) for line in args.input.read_text().splitlines() if line.strip()]
        for i, r in enumerate(rows):
            missing = [k for k in ("qid", "query", "vid") if k not in r]
            if missing:
                p.error(f"{args.input} line {i + 1}: missing {', '.join(missing)}")
    windows = predictor.predict_batch([(r["vid"], r["query"]) for r in rows], k=args.topk)
    out_rows = [{"qid": r["qid"], "query": r["query"], "vid": r["vid"], "pred_relevant_windows": w} for r, w in zip(rows, windows)]
    if args.output:
        from grounding.run_eval import write_jsonl

        write_jsonl(args.output, out_rows)
    else:
        sys.stdout.writelines(json.dumps(r) + "\n" for r in out_rows)
    if args.plot:
        from grounding.plot import plot_prediction

        gt = {(r["video_id"], r["query"]): r["windows"] for r in predictor.info.rows}
        for r in rows:
            path = plot_prediction(predictor.explain(r["vid"], r["query"], args.topk), args.plot, gt.get((r["vid"], r["query"]), []))
            print(f"wrote {path}", file=sys.stderr)
    return 0
