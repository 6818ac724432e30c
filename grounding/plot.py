"""One PNG per query: what the model predicted, against the ground truth, with the narratives.

Three stacked panels sharing the time axis (seconds):
1. timeline: ground-truth windows (green) and the top-k predictions (blue, rank and score);
2. the model's curves over the snippets (``GroundingModel.curves``: start / end probabilities and
   the foreground gate of a span model, the saliency of a DETR model, ...);
3. the aligned narratives: a tick per narrative and the text of a few, evenly spread.
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


def plot_prediction(pred: Prediction, out: str | Path, ground_truth: Sequence[Sequence[float]] = (),
                    n_texts: int = 6) -> Path:
    """Write the picture of ``pred`` to ``out`` (a .png path, or a folder to name it in)."""
    out = Path(out)
    if out.suffix.lower() != ".png":
        out = out / f"{safe_name(pred.video_id)}__{safe_name(pred.query)}.png"
    out.parent.mkdir(parents=True, exist_ok=True)
    d = pred.duration
    fig, (ax_t, ax_p, ax_n) = plt.subplots(3, 1, figsize=(10, 6.5), sharex=True,
                                           gridspec_kw={"height_ratios": [1.3, 1.4, 1.8]})
    fig.suptitle(textwrap.shorten(f"{pred.video_id}: \"{pred.query}\"", 110), fontsize=10)

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
        picks = np.unique(np.linspace(0, len(pred.narrative_texts) - 1, min(n_texts, len(pred.narrative_texts))).astype(int))
        for row, i in enumerate(picks):
            y = 0.85 - row * 0.8 / max(1, len(picks))
            ax_n.text(pred.narrative_times[i], y, f"{pred.narrative_times[i]:.0f}s " + textwrap.shorten(pred.narrative_texts[i], 70),
                      fontsize=6.5, va="top", ha="left" if pred.narrative_times[i] < d / 2 else "right")
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
