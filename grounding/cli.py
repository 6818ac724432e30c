"""The grounding commands (typer): ``grounding-train``, ``grounding-eval``, ``grounding-predict``.

``grounding-train`` takes its settings like every command of the project (``groundwork.settings``):
TrainConfig's defaults <- a YAML file (``--config``) <- dotted flags (``--optim.lr 1e-3``). Each
``main`` returns the exit code (0, or 2 after a user error, printed as one line); console scripts
exit with it.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence
from pathlib import Path

import typer

from groundwork.cli import CONTEXT, new_app, run_app
from groundwork.errors import InputError

# -- grounding-train ---------------------------------------------------------------------------
SHORTCUTS = {
    "--priors": "--data.manifest",
    "--features": "--data.features",
    "--model": "--model.name",
    "--out": "--out-dir",
}

TRAIN_EXAMPLES = """\b
examples:
  grounding-train --priors manifests/demo.parquet --config configs/tea_demo.yaml
  grounding-train --priors manifests/charades_sta.parquet --model tea --features /data/charades/i3d
  grounding-train --config configs/tea_charades.yaml --features /data/slowfast /data/clip \\
      --optim.lr 1e-3 --model.alpha 0.3 --optim.epochs 50
\b
reads:  the manifest (--priors), the video features (--features; default: the features the
        pipeline extracted into the cache) and the cached text features the manifest names
writes: OUT/best (chosen on data.val_split, never on test), OUT/last (for --resume),
        OUT/config.json, OUT/log.csv and TensorBoard scalars under OUT/tb
\b
shortcuts: --priors = --data.manifest, --features = --data.features (several are concatenated),
           --model = --model.name, --out = --out-dir
"""


def _train_epilog() -> str:
    from grounding.config import TrainConfig
    from grounding.models import MODELS
    from grounding.models.base import ModelConfig
    from groundwork.settings import field_rows, fields_help

    text = [
        TRAIN_EXAMPLES,
        fields_help(field_rows(TrainConfig), "settings (defaults <- --config YAML <- these flags):"),
        fields_help(field_rows(ModelConfig, "model."), "settings of every model (set from the data):"),
    ]
    configs = {MODELS.get(n).config_cls: n for n in MODELS.names()}
    for name in MODELS.names():
        cls = MODELS.get(name).config_cls
        parent = next((p for p in cls.__mro__[1:] if p in configs), ModelConfig)
        rows = [r for r in field_rows(cls, "model.") if r[0][len("model.") :] not in parent.model_fields]
        more = f", beyond {configs[parent]}'s" if parent in configs else ""
        if rows:
            text.append(fields_help(rows, f"settings of --model {name}{more}:"))
    return "\n\n".join(text)


train_app = new_app("Train a grounding model on a priors manifest and video features.")


@train_app.command(context_settings=CONTEXT, epilog=_train_epilog())
def train(
    ctx: typer.Context,
    config: Path | None = typer.Option(None, "--config", help="YAML config, e.g. configs/tea_demo.yaml"),
    resume: bool = typer.Option(False, "--resume", help="continue OUT/last"),
    no_progress: bool = typer.Option(False, "--no-progress", help="no progress bars"),
) -> None:
    """Train a grounding model: best checkpoint on validation, predictions-ready run folder."""
    from grounding.config import load_config
    from grounding.train import fit

    flags = [SHORTCUTS.get(arg, arg) for arg in ctx.args]
    cfg = load_config(config, flags)
    result = fit(cfg, resume=resume, progress=not no_progress)
    print(json.dumps({"out_dir": str(result.out_dir), "best": result.best}, indent=2))
    warning = collapse_warning(result.best, cfg.select_max_repeats)
    if warning:
        print(warning, file=sys.stderr)


def collapse_warning(best: dict | None, cap: float | None = None) -> str:
    """A warning when the chosen checkpoint answers the validation queries of a video alike
    (``same_window`` above ``grounding.evaluation.COLLAPSED``), else ''. ``cap``: the run's
    ``select_max_repeats``."""
    from grounding.evaluation import collapsed

    if not best or not collapsed(best.get("same_window")):
        return ""
    advice = (
        f"no validation epoch was at or under --select-max-repeats {cap:g}, so the best-scoring one was kept"
        if cap is not None and best["same_window"] > cap
        else "--select-max-repeats 50 chooses among epochs that do not"
    )
    return (
        f"warning: the chosen checkpoint (epoch {best.get('epoch')}) repeats its top-1 window across a video's "
        f"validation queries {best['same_window']:.0f}% of the time: it answers the queries of a video alike, "
        f"so its scores say where moments usually lie, not what the query asks; {advice}"
    )


# -- grounding-eval ----------------------------------------------------------------------------
EVAL_EXAMPLES = """\b
examples:
  grounding-eval --checkpoint runs/tea-demo --split test          # writes runs/tea-demo/preds_test.jsonl
  grounding-eval --preds preds.jsonl --gt gt.jsonl --json          # community JSONL files
  grounding-eval --checkpoint copied-run --priors manifests/charades_sta.parquet --features /data/i3d
  grounding-eval --model granalign --priors manifests/qvhighlights.parquet --split val \
      --config configs/granalign_qvhighlights.yaml --model.pairing simplified_only   # zero-shot
\b
reads:  a run folder (its best/ checkpoint) and the data it recorded, or two JSONL files, or
        (zero-shot) a manifest and its cached priors
writes: PREDS (--out; default RUN/preds_SPLIT.jsonl, zero-shot: runs/<model>-<dataset>/...)
        in checkpoint and zero-shot mode; the metrics on stdout
\b
Prediction rows: {"qid", "query", "vid", "pred_relevant_windows": [[start, end, score], ...],
optional "pred_saliency_scores"}. Ground-truth rows: {"qid", "vid", "duration",
"relevant_windows", optional "split", "relevant_clip_ids", "saliency_scores"}; with saliency
the full QVHighlights suite runs (MR mAP, R1, HL mAP / HIT@1).
Spatio-temporal files (ground-truth rows with "gt_sted", "gt_boxes", "segment", "fps",
"frame_count"; predictions with "sted" and "boxes"; grounding/metrics/stvg_records.py) give
m_tIoU, m_vIoU, vIoU@0.3/0.5 per sentence type under --protocol.
"""

eval_app = new_app("Evaluate a checkpoint on a split, or a prediction file against ground truth.")

CHECKPOINT_HELP = "run folder (uses best/) or checkpoint folder"
MOVED = "instead of the path the checkpoint recorded (a run copied from another machine)"


@eval_app.command(context_settings=CONTEXT, epilog=EVAL_EXAMPLES)
def evaluate(
    ctx: typer.Context,
    checkpoint: Path | None = typer.Option(None, "--checkpoint", help=CHECKPOINT_HELP),
    model: str | None = typer.Option(
        None,
        "--model",
        help="a zero-shot model (e.g. granalign): run it from "
        "its config on --priors, no checkpoint; --model.FIELD VALUE sets its "
        "settings",
    ),
    config: Path | None = typer.Option(
        None, "--config", help="zero-shot mode: a YAML config, e.g. configs/granalign_qvhighlights.yaml"
    ),
    split: str | None = typer.Option(None, "--split", help="split to evaluate (default: data.test_split)"),
    preds: Path | None = typer.Option(None, "--preds", help="prediction JSONL (file mode)"),
    gt: Path | None = typer.Option(None, "--gt", help="ground-truth JSONL (file mode)"),
    out: Path | None = typer.Option(None, "--out", help="where to write predictions (checkpoint mode)"),
    as_json: bool = typer.Option(False, "--json", help="print the metrics as JSON"),
    protocol: str = typer.Option(
        "tubedetr",
        "--protocol",
        help="STVG files: tubedetr (5 fps grid, <= 200 frames), dense (every frame, "
        "STCAT / CG-STVG) or hcstvg (the challenge scorer)",
    ),
    priors: Path | None = typer.Option(None, "--priors", help=f"the manifest to read {MOVED}"),
    features: list[str] | None = typer.Option(None, "--features", help=f"feature store(s) {MOVED}; repeat"),
    cache_dir: str | None = typer.Option(None, "--cache-dir", help=f"the priors cache folder {MOVED}"),
) -> None:
    """Score a checkpoint on a split (writing its predictions), a zero-shot model from its config,
    or a prediction file."""
    from grounding.evaluation import evaluate_prediction_files, format_metrics
    from grounding.run_eval import evaluate_checkpoint

    if ctx.args and not (model or config):
        raise InputError(f"unexpected arguments {ctx.args}: settings flags are for zero-shot mode (--model NAME)")
    if model or config:
        if checkpoint or preds or gt:
            raise InputError("zero-shot mode (--model / --config) takes no --checkpoint, --preds or --gt")
        result = _zero_shot(model, config, priors, features, cache_dir, split, out, ctx.args)
    elif preds or gt:
        if not (preds and gt) or checkpoint:
            raise InputError("file mode needs both --preds and --gt (and no --checkpoint)")
        from grounding.metrics.stvg_records import evaluate_stvg_files, format_stvg, looks_like_stvg_gt

        if looks_like_stvg_gt(gt):  # spatio-temporal files: boxes per frame, scored per sentence type
            result = evaluate_stvg_files(preds, gt, protocol)
            print(json.dumps(result, indent=2) if as_json else format_stvg(result))
            return
        result = evaluate_prediction_files(preds, gt)
    elif checkpoint:
        result = evaluate_checkpoint(checkpoint, split, out, priors, features or None, cache_dir)
    else:
        raise InputError("give --checkpoint RUN [--split S], or --preds P.jsonl --gt G.jsonl")
    print(json.dumps(result, indent=2) if as_json else format_metrics(result))


def _zero_shot(
    model: str | None,
    config: Path | None,
    priors: Path | None,
    features: list[str] | None,
    cache_dir: str | None,
    split: str | None,
    out: Path | None,
    flags: list[str],
) -> dict:
    """``grounding-eval --model granalign --priors M``: build the config like grounding-train does
    and score the model on ``split`` without training (``evaluate_untrained``)."""
    from grounding.config import load_config
    from grounding.models import MODELS
    from grounding.run_eval import evaluate_untrained

    given = [
        *(["--model.name", model] if model else []),
        *(["--data.manifest", str(priors)] if priors else []),
        *(["--data.features", *features] if features else []),
        *(["--data.cache-dir", str(cache_dir)] if cache_dir else []),
    ]
    cfg = load_config(config, [*given, *(SHORTCUTS.get(a, a) for a in flags)])
    if MODELS.get(cfg.model.name).trainable:
        msg = (
            f"model '{cfg.model.name}' is trained: train it with grounding-train, then score the run with "
            "grounding-eval --checkpoint RUN"
        )
        raise InputError(msg)
    if cfg.data.manifest is None:
        raise InputError("zero-shot mode needs the manifest: --priors manifests/<dataset>.parquet")
    return evaluate_untrained(cfg, split, out)


# -- grounding-predict -------------------------------------------------------------------------
PREDICT_EXAMPLES = """\b
examples:
  grounding-predict --checkpoint runs/tea-demo --video demo_003 --query "a red ball rolls" --plot out/
  grounding-predict --checkpoint runs/tea-demo --input queries.jsonl --output preds.jsonl
  grounding-predict --checkpoint copied-run --priors manifests/demo.parquet --input q.jsonl
\b
reads:  a run folder and the data it recorded; --input rows {"qid", "query", "vid"}
writes: community JSONL (--output, default stdout): the rows plus "pred_relevant_windows"
        (top-k [start, end, score], best first) and any extra keys the model predicts;
        with --plot, one timeline PNG per query
A query already in the cache uses its cached text features; a new one is embedded with the
manifest's text encoder (pure torch, no transformers). A checkpoint records the absolute paths of
its manifest, features and cache; for a run folder copied from another machine give --priors /
--features / --cache-dir.
"""

predict_app = new_app("Localise queries in videos with a trained checkpoint.")


@predict_app.command(epilog=PREDICT_EXAMPLES)
def predict(
    checkpoint: Path = typer.Option(..., "--checkpoint", help=CHECKPOINT_HELP),
    video: str | None = typer.Option(None, "--video", help="video id (single-query mode)"),
    query: str | None = typer.Option(None, "--query", help="the sentence to localise (single-query mode)"),
    input_path: Path | None = typer.Option(None, "--input", help="JSONL of {qid, query, vid} (file mode)"),
    output: Path | None = typer.Option(None, "--output", help="community JSONL to write (default stdout)"),
    topk: int = typer.Option(5, "-k", "--topk", help="windows per query"),
    plot: Path | None = typer.Option(None, "--plot", help="folder for one timeline PNG per query"),
    device: str = typer.Option("cpu", "--device", help="cpu, cuda, cuda:1, ..."),
    priors: Path | None = typer.Option(None, "--priors", help=f"the manifest to read {MOVED}"),
    features: list[str] | None = typer.Option(None, "--features", help=f"feature store(s) {MOVED}; repeat"),
    cache_dir: str | None = typer.Option(None, "--cache-dir", help=f"the priors cache folder {MOVED}"),
) -> None:
    """Predict the windows of one query (--video, --query) or of a JSONL file of queries (--input)."""
    single = video is not None or query is not None
    if single == (input_path is not None) or (single and not (video and query)):
        raise InputError("give --video VID --query TEXT, or --input queries.jsonl")
    from grounding.predict import Predictor
    from grounding.run_eval import write_jsonl

    predictor = Predictor.from_checkpoint(
        checkpoint, device=device, manifest=priors, features=features or None, cache_dir=cache_dir
    )
    rows = [{"qid": 0, "query": query, "vid": video}] if single else _read_queries(input_path)
    preds = predictor.predict_rows([(r["vid"], r["query"]) for r in rows], k=topk)
    out_rows = [{"qid": r["qid"], "query": r["query"], "vid": r["vid"], **p} for r, p in zip(rows, preds, strict=True)]
    if output:
        write_jsonl(output, out_rows)
    else:
        sys.stdout.writelines(json.dumps(r) + "\n" for r in out_rows)
    if plot:
        from grounding.plot import plot_prediction

        gt = {(r["video_id"], r["query"]): r["windows"] for r in predictor.info.rows}
        for r in rows:
            path = plot_prediction(
                predictor.explain(r["vid"], r["query"], topk), plot, gt.get((r["vid"], r["query"]), [])
            )
            print(f"wrote {path}", file=sys.stderr)


def _read_queries(path: Path) -> list[dict]:
    if not path.is_file():
        raise InputError(f"--input {path} does not exist")
    rows = []
    for i, line in enumerate(path.read_text().splitlines(), start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as exc:
            raise InputError(f"{path} line {i}: not valid JSON ({exc})") from None
        missing = [k for k in ("qid", "query", "vid") if not isinstance(row, dict) or k not in row]
        if missing:
            raise InputError(f"{path} line {i}: missing {', '.join(missing)}")
        rows.append(row)
    return rows


# -- entry points ------------------------------------------------------------------------------
def train_main(argv: Sequence[str] | None = None) -> int:
    return run_app(train_app, argv, "grounding-train")


def eval_main(argv: Sequence[str] | None = None) -> int:
    return run_app(eval_app, argv, "grounding-eval")


def predict_main(argv: Sequence[str] | None = None) -> int:
    return run_app(predict_app, argv, "grounding-predict")
