"""Per-split reports: the temporal metrics of each labelled subset of the test queries.

The out-of-distribution benchmarks report one row per test split: Charades-CD and ActivityNet-CD
(``test_iid`` / ``test_ood``), Charades-CG (``test_trivial`` / ``novel_composition`` /
``novel_word``). Labels are free-form; ``SPLIT_GROUPS`` lists the usual ones so reports come out
in the papers' order, any other label follows in order of first appearance.
"""

from __future__ import annotations

from collections.abc import Sequence

from numpy.typing import ArrayLike

from grounding.metrics.temporal import DEFAULT_KS, DEFAULT_THRESHOLDS, temporal_metrics

SPLIT_GROUPS: dict[str, tuple[str, ...]] = {
    "charades_cd": ("test_iid", "test_ood"),
    "activitynet_cd": ("test_iid", "test_ood"),
    "charades_cg": ("test_trivial", "novel_composition", "novel_word"),
}
_KNOWN_ORDER = [name for group in SPLIT_GROUPS.values() for name in group]


def _order(labels: Sequence[str]) -> list[str]:
    seen = list(dict.fromkeys(labels))
    known = [name for name in dict.fromkeys(_KNOWN_ORDER) if name in seen]
    return known + [name for name in seen if name not in known]


def split_reports(
    preds: Sequence[ArrayLike],
    gts: Sequence[ArrayLike],
    labels: Sequence[str],
    thresholds: Sequence[float] = DEFAULT_THRESHOLDS,
    k: Sequence[int] = DEFAULT_KS,
) -> dict[str, dict[str, float | int]]:
    """``{split: {"R1@0.3": .., "R5@0.7": .., "mIoU": .., "n": ..}}`` for each split label.

    ``preds[i]``, ``gts[i]`` and ``labels[i]`` describe query i (see ``temporal.temporal_metrics``
    for how predictions are ranked and scored)."""
    if not len(preds) == len(gts) == len(labels):
        msg = f"split_reports: {len(preds)} predictions, {len(gts)} ground truths, {len(labels)} labels"
        raise ValueError(msg)
    out: dict[str, dict[str, float | int]] = {}
    for name in _order(labels):
        idx = [i for i, label in enumerate(labels) if label == name]
        out[name] = temporal_metrics([preds[i] for i in idx], [gts[i] for i in idx], thresholds, k)
    return out
