"""One PNG per query: what the model predicted, against the ground truth, with the narratives.

Three stacked panels sharing the time axis (seconds):
1. timeline: ground-truth windows (green) and the top-k predictions (blue, rank and score);
2. the model's curves over the snippets (``GroundingModel.curves``: start / end probabilities and
   the foreground gate of a span model, the saliency of a DETR model, ...);
3. the aligned narratives: a tick per narrative and the text of a few, evenly spread;
4. for a spatio-temporal prediction (its ``extra`` holds ``boxes``, ``grounding.models.bridge_stg``):
   a strip of a few frames of the predicted segment with the predicted box (blue) and, when the
   prediction carries them (``gt_boxes``), the ground truth's (green); on the video's own pixels when
   ``extra["video_path"]`` points to a readable file (``grounding.video_frames``), else on blank frames.
"""

from __future__ import annotations

import re
import textwrap
import warnings
from collections.abc import Sequence
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from grounding.predict import Prediction  # noqa: E402


def safe_name(text: str, limit: int = 60) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", text).strip("_")[:limit] or "query"


def _frame_strip(fig: plt.Figure, cell: object, pred: Prediction, n_frames: int = 4) -> None:
    """Up to ``n_frames`` frames of the predicted segment with their boxes (see the module doc)."""
    from grounding.video_frames import read_frames

    boxes = {int(f): b for f, b in pred.extra["boxes"].items()}
    gt = {int(f): b for f, b in (pred.extra.get("gt_boxes") or {}).items()}
    start, end = pred.extra.get("sted", [min(boxes), max(boxes) + 1])
    inside = [f for f in sorted(boxes) if start <= f < end] or sorted(boxes)
    picks = [inside[i] for i in np.unique(np.linspace(0, len(inside) - 1, min(n_frames, len(inside))).astype(int))]
    images = read_frames(pred.extra.get("video_path"), picks)
    width, height = pred.extra.get("frame_size") or [
        max(b[2] for b in boxes.values()),
        max(b[3] for b in boxes.values()),
    ]
    axes = cell.subgridspec(1, n_frames, wspace=0.05).subplots()  # type: ignore[attr-defined]
    for k, ax in enumerate(np.atleast_1d(axes)):
        ax.set_xticks([])
        ax.set_yticks([])
        if k >= len(picks):
            ax.axis("off")
            continue
        f = picks[k]
        if images is not None:
            ax.imshow(images[k])
        else:
            ax.imshow(np.full((max(1, round(height)), max(1, round(width)), 3), 235, np.uint8))
        for box, colour in ((gt.get(f), "tab:green"), (boxes[f], "tab:blue")):
            if box is not None:
                ax.add_patch(
                    plt.Rectangle(
                        (box[0], box[1]), box[2] - box[0], box[3] - box[1], fill=False, edgecolor=colour, lw=2
                    )
                )
        ax.set_title(f"frame {f}" + ("" if images is not None else " (no video file)"), fontsize=7)
    np.atleast_1d(axes)[0].set_ylabel("boxes", fontsize=8)


def plot_prediction(
    pred: Prediction, out: str | Path, ground_truth: Sequence[Sequence[float]] = (), n_texts: int = 6
) -> Path:
    """Write the picture of ``pred`` to ``out`` (a .png path, or a folder to name it in)."""
    out = Path(out)
    if out.suffix.lower() != ".png":
        out = out / f"{safe_name(pred.video_id)}__{safe_name(pred.query)}.png"
    out.parent.mkdir(parents=True, exist_ok=True)
    d = pred.duration
    boxes = pred.extra.get("boxes") or {}
    if boxes:
        fig = plt.figure(figsize=(10, 9.0))
        grid = fig.add_gridspec(4, 1, height_ratios=[1.3, 1.4, 1.8, 2.4])
        ax_t = fig.add_subplot(grid[0])
        ax_p, ax_n = fig.add_subplot(grid[1], sharex=ax_t), fig.add_subplot(grid[2], sharex=ax_t)
        _frame_strip(fig, grid[3], pred)
    else:
        fig, (ax_t, ax_p, ax_n) = plt.subplots(
            3, 1, figsize=(10, 6.5), sharex=True, gridspec_kw={"height_ratios": [1.3, 1.4, 1.8]}
        )
    fig.suptitle(textwrap.shorten(f'{pred.video_id}: "{pred.query}"', 110), fontsize=10)

    for s, e in ground_truth:
        ax_t.axvspan(s, e, ymin=0.55, ymax=0.95, color="tab:green", alpha=0.6)
    for rank, (s, e, score) in enumerate(pred.windows):
        y = 0.45 - 0.4 * rank / max(1, len(pred.windows))
        fade = rank / max(1, len(pred.windows))  # 0 for the best window, < 1 for the last (a DETR model gives 10)
        ax_t.plot([s, e], [y, y], color="tab:blue", lw=6 - 4 * fade, alpha=1 - 0.8 * fade)
        ax_t.text(e, y, f" #{rank + 1} {score:.3g}", va="center", fontsize=7)
    ax_t.set_ylim(0, 1)
    ax_t.set_yticks([0.25, 0.75], ["predicted", "ground truth"])

    for name, values in pred.curves.items():
        n = len(values)
        ax_p.plot((np.arange(n) + 0.5) * d / n, values, label=name)
    ax_p.set_ylabel("score")
    if pred.curves:
        ax_p.legend(loc="upper right", fontsize=7)
    else:
        ax_p.text(d / 2, 0.5, "the model has no per-snippet curves", ha="center", fontsize=8, color="grey")

    ax_n.set_ylim(0, 1)
    ax_n.set_yticks([])
    ax_n.set_ylabel("narratives")
    for t in pred.narrative_times:
        ax_n.axvline(t, ymin=0.93, ymax=1.0, color="grey", lw=0.8)
    if pred.narrative_texts:
        picks = np.unique(
            np.linspace(0, len(pred.narrative_texts) - 1, min(n_texts, len(pred.narrative_texts))).astype(int)
        )
        for row, i in enumerate(picks):
            y = 0.85 - row * 0.8 / max(1, len(picks))
            ax_n.text(
                pred.narrative_times[i],
                y,
                f"{pred.narrative_times[i]:.0f}s " + textwrap.shorten(pred.narrative_texts[i], 70),
                fontsize=6.5,
                va="top",
                ha="left" if pred.narrative_times[i] < d / 2 else "right",
            )
    else:
        ax_n.text(d / 2, 0.5, "no narratives for this video", ha="center", fontsize=8, color="grey")
    ax_n.set_xlim(0, d)
    ax_n.set_xlabel("time (s)")
    with warnings.catch_warnings():  # narratives may hold characters the default font lacks
        warnings.filterwarnings("ignore", message="Glyph .* missing from font")
        fig.tight_layout()
        fig.savefig(out, dpi=110)
    plt.close(fig)
    return out
