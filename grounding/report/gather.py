"""Everything a run's report shows, gathered into one JSON-able dict (the page's data).

Sources, for each split reported:

- the predictions: ``RUN/preds_<split>.jsonl`` (what ``grounding-eval`` writes), else one pass of
  the checkpoint over the split (``report.curves.run_split``; nothing is written into the run);
- the model's curves: that same batched pass (``curves=False`` skips it); a prediction row's
  ``pred_saliency_scores`` are shown as a ``saliency`` curve when the model gives no curves;
- the ground truth and the query texts: the manifest the checkpoint recorded;
- what the MLLM wrote: every prior kind the manifest has, read once per kind from the cache
  (``CacheStore.priors``). A prior row with an empty ``query_id`` belongs to the video (narrative,
  clip captions, events: drawn on the timeline); one with a query id belongs to that query (query
  rewrites, query-aware captions: listed under it). Error rows are kept, marked, with the
  model's raw answer when the pipeline kept one;
- the metrics: ``grounding.evaluation.evaluate_predictions`` over every reported split, with the
  per-split table (Charades-CD / -CG test splits are manifest splits of their own).

Page data (``version`` 1)::

    {"version", "title", "run", "model", "dataset", "manifest", "splits", "generated_at",
     "metrics": {"suite", "overall": {...}, "splits": {split: {...}}, "counts": {...}},
     "kinds": {"video": [kind, ...], "query": [kind, ...]},
     "videos": {vid: {"duration", "src" (URL relative to the page, or null), "priors": {kind: [[t0, t1, text, ok]]}}},
     "queries": [{"qid", "query", "vid", "split", "gt": [[s, e]], "pred": [[s, e, score]], "iou",
                  "curves": {name: {"max": m, "v": [0..1000 ints, the curve / m]}},
                  "priors": {kind: [[t0, t1, text, ok]]}}],
     "video_folders": [...], "missing_videos": [...], "notes": [...]}

``iou`` is the top-1 prediction's best IoU over the ground-truth windows (``None`` for a query
with no ground truth); a query is correct at IoU >= 0.5, as R1@0.5 counts it.
"""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from grounding.checkpoint import META, resolve
from grounding.evaluation import evaluate_predictions
from grounding.metrics.records import PredictionRecord, read_jsonl
from grounding.metrics.temporal import topk_ious
from grounding.report.videos import VideoLinks, default_video_dirs
from grounding.run_eval import ground_truth_rows
from groundwork.cache.manifest import ManifestInfo, read_manifest
from groundwork.cache.store import CacheStore
from groundwork.errors import InputError, MissingInputError

VERSION = 1
CURVE_STEPS = 1000  # curves travel as integers 0..1000 of their maximum
PRIOR_COLUMNS = ["key", "query_id", "t_start", "t_end", "text", "status", "error_type", "error", "raw"]


def _run_config(run: Path) -> dict[str, Any] | None:
    """The training config a run folder's checkpoint recorded (``best/``, else ``last/``), read
    from its JSON alone (no weights); None for a folder without one (a zero-shot method's)."""
    try:
        folder = resolve(run)
    except MissingInputError:
        return None
    return json.loads((folder / META).read_text())["config"]


def _plain_config(run: Path) -> dict[str, Any] | None:
    """The ``config.json`` a run folder holds without a checkpoint (a zero-shot method's run,
    ``grounding.run_eval.evaluate_untrained``): where its manifest is; None without one."""
    file = run / "config.json"
    return json.loads(file.read_text()) if file.is_file() else None


def prediction_splits(run: Path) -> list[str]:
    """The splits with a ``preds_<split>.jsonl`` in the run folder."""
    return sorted(p.stem[len("preds_") :] for p in run.glob("preds_*.jsonl"))


def _curve(values: Any) -> dict[str, Any]:
    arr = np.nan_to_num(np.asarray(values, dtype=np.float64).reshape(-1), nan=0.0, posinf=0.0, neginf=0.0)
    top = float(np.abs(arr).max()) if arr.size else 0.0
    steps = np.rint(arr / top * CURVE_STEPS).astype(np.int64) if top > 0 else np.zeros(arr.size, dtype=np.int64)
    return {"max": float(f"{top:.4g}"), "v": steps.tolist()}


def _prior_item(row: dict[str, Any]) -> list[Any]:
    """``[t0, t1, text, ok]``; an error row shows its error type and the raw answer if kept."""
    t0, t1 = round(float(row["t_start"] or 0.0), 2), round(float(row["t_end"] or 0.0), 2)
    if row["status"] == "ok":
        return [t0, t1, row["text"] or "", 1]
    said = row.get("raw") or row.get("text") or ""
    why = row.get("error_type") or "error"
    return [t0, t1, f"[{why}] {said or row.get('error') or ''}".strip(), 0]


def _priors(info: ManifestInfo, rows: Sequence[dict[str, Any]]) -> tuple[dict[str, dict], dict[str, dict], dict]:
    """(video id -> kind -> items, query id -> kind -> items, {"video": kinds, "query": kinds})."""
    cache = CacheStore(info.cache_dir)
    by_video: dict[str, dict[str, dict[str, list]]] = {}
    by_query: dict[str, dict[str, list]] = {}
    kinds: dict[str, list[str]] = {"video": [], "query": []}
    for kind in info.kinds:
        wanted = {key for r in rows for key in info.keys(r, kind)}
        if not wanted:
            continue
        table = cache.priors(kind, wanted)
        present = [c for c in PRIOR_COLUMNS if c in table.column_names]
        found = {r["key"]: (bool(r.get("query_id")), _prior_item(r)) for r in table.select(present).to_pylist()}
        level = ""
        for r in rows:  # a video's rows list the same video-level keys: each item is built once, above
            for key in info.keys(r, kind):
                if key not in found:
                    continue
                of_query, item = found[key]
                if of_query:
                    level = level or "query"
                    by_query.setdefault(r["query_id"], {}).setdefault(kind, []).append(item)
                else:
                    level = level or "video"
                    by_video.setdefault(r["video_id"], {}).setdefault(kind, {})[key] = item
        if level:
            kinds[level].append(kind)
    videos = {
        vid: {kind: sorted(items.values(), key=lambda x: (x[0], x[1])) for kind, items in per_kind.items()}
        for vid, per_kind in by_video.items()
    }
    return videos, by_query, kinds


def _predictions(
    run: Path, split: str, config: dict[str, Any] | None, curves: bool, device: str, overrides: dict[str, Any]
) -> tuple[dict[str, dict[str, Any]], dict[str, dict], str]:
    """(qid -> prediction row, qid -> curves, where the predictions came from)."""
    file = run / f"preds_{split}.jsonl"
    have_file = file.is_file()
    rows: dict[str, dict[str, Any]] = {}
    if have_file:
        rows = {str(r.qid): r.model_dump(exclude_none=True) for r in read_jsonl(file, PredictionRecord)}
    if config is None and not have_file:
        msg = f"{file} does not exist and {run} holds no checkpoint to predict it with (run grounding-eval first)"
        raise MissingInputError(msg)
    if config is None or (have_file and not curves):  # nothing to run the model for
        return rows, {}, str(file)
    from grounding.report.curves import (
        run_split,  # torch and the model only when a pass is needed
    )

    passed = run_split(run, split, k=config.get("topk", 5), device=device, **overrides)
    return (rows if have_file else passed.predictions), passed.curves, str(file) if have_file else "a model pass"


def collect_run(
    run: str | Path,
    page_dir: str | Path,
    splits: Sequence[str] = (),
    videos: Sequence[Path] = (),
    curves: bool = True,
    device: str = "cpu",
    manifest: str | Path | None = None,
    features: list[str] | None = None,
    cache_dir: str | Path | None = None,
    title: str | None = None,
) -> dict[str, Any]:
    """The page data of run folder ``run`` (see the module doc). ``page_dir`` is where the page
    will be written (video links are relative to it); ``splits`` default to every
    ``preds_<split>.jsonl`` of the run, else the config's test split; ``videos`` are folders of
    ``<video id>.<ext>`` files (default: ``videos.default_video_dirs``); ``manifest``,
    ``features``, ``cache_dir`` replace the paths the checkpoint recorded."""
    run, page_dir = Path(run), Path(page_dir)
    if not run.is_dir():
        msg = f"run folder {run} does not exist"
        raise MissingInputError(msg)
    config = _run_config(run)
    data = (config or _plain_config(run) or {}).get("data", {})
    if not (manifest or data.get("manifest")):
        msg = f"{run} holds no checkpoint to read the manifest path from: pass --priors MANIFEST"
        raise MissingInputError(msg)
    info = read_manifest(manifest or data["manifest"], cache_dir or data.get("cache_dir"))
    splits = list(splits) or prediction_splits(run) or ([data["test_split"]] if data.get("test_split") else [])
    if not splits:
        msg = f"{run}: no preds_<split>.jsonl and no test split recorded: pass --split"
        raise InputError(msg)
    known = set(info.splits())
    unknown = [s for s in splits if s not in known]
    if unknown:
        msg = f"split(s) {', '.join(unknown)} not in manifest {info.path} (it has {', '.join(sorted(known))})"
        raise InputError(msg)
    overrides = {"manifest": manifest, "features": features, "cache_dir": cache_dir}
    rows = [r for r in info.rows if r["split"] in set(splits)]
    preds: dict[str, dict[str, Any]] = {}
    curve_rows: dict[str, dict] = {}
    sources = []
    for split in splits:
        split_preds, split_curves, source = _predictions(run, split, config, curves, device, overrides)
        preds |= split_preds
        curve_rows |= split_curves
        sources.append(f"{split}: {source}")

    gt = [g for g in ground_truth_rows(rows) if g["relevant_windows"]]
    gt_qids = {str(g["qid"]) for g in gt}
    scored = [p for qid, p in preds.items() if qid in gt_qids]
    result = evaluate_predictions(scored, gt) if gt else {"suite": "none", "metrics": {}, "counts": {}}
    overall = result["metrics"]["brief"] if result["suite"] == "qvhighlights" else result["metrics"]
    metrics = {
        "suite": result["suite"],
        "overall": overall,
        "splits": result.get("splits", {}),
        "counts": result["counts"],
    }

    windows = [
        np.asarray(preds.get(str(r["query_id"]), {}).get("pred_relevant_windows", []), dtype=np.float64).reshape(-1, 3)
        for r in rows
    ]
    ious = topk_ious(windows, [r["windows"] for r in rows], 1)[:, 0] if rows else np.zeros(0)
    video_priors, query_priors, kinds = _priors(info, rows)
    links = VideoLinks.scan(list(videos) or default_video_dirs(info.dataset, info.path))

    queries = []
    for row, win, iou in zip(rows, windows, ious, strict=True):
        qid = str(row["query_id"])
        pred = preds.get(qid, {})
        named = {name: _curve(v) for name, v in curve_rows.get(qid, {}).items()}
        if not named and pred.get("pred_saliency_scores"):
            named = {"saliency": _curve(pred["pred_saliency_scores"])}
        queries.append(
            {
                "qid": qid,
                "query": row["query"],
                "vid": row["video_id"],
                "split": row["split"],
                "gt": [[round(s, 2), round(e, 2)] for s, e in row["windows"]],
                "pred": [[round(s, 2), round(e, 2), float(f"{c:.4g}")] for s, e, c in win.tolist()],
                "iou": round(float(iou), 4) if row["windows"] else None,
                "curves": named,
                "priors": query_priors.get(row["query_id"], {}),
            }
        )
    vids = {}
    for row in rows:
        if row["video_id"] not in vids:
            vids[row["video_id"]] = {
                "duration": float(row["duration"]),
                "src": links.href(row["video_id"], page_dir),
                "priors": video_priors.get(row["video_id"], {}),
            }
    notes = [f"predictions of {s}" for s in sources]
    if curves and config is None:
        notes.append("no checkpoint in the run folder: no model curves (only pred_saliency_scores when present)")
    empty = [k for k in info.kinds if k not in kinds["video"] + kinds["query"]]
    if empty:  # the manifest lists only ok items: a kind whose every request failed has none
        notes.append(f"prior kinds with no items for these queries: {', '.join(empty)}")
    missing = links.missing(vids)
    model = (config or {}).get("model", {}).get("name", "")
    return {
        "version": VERSION,
        "title": title or f"{model or 'run'} — {run.resolve().parent.name}/{run.name}",
        "run": str(run),
        "model": model,
        "dataset": info.dataset,
        "manifest": str(info.path),
        "splits": splits,
        "generated_at": time.strftime("%Y-%m-%d %H:%M:%S"),
        "metrics": metrics,
        "kinds": kinds,
        "videos": vids,
        "queries": queries,
        "video_folders": [str(f) for f in links.folders],
        "missing_videos": missing,
        "notes": notes,
    }
