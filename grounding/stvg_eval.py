"""Spatio-temporal (STVG) scoring of a model's decoded predictions on manifest rows, for the
training loop's validation (``grounding.train.evaluate``), ``grounding-eval`` of a checkpoint
(``grounding.run_eval``) and the demo.

A model whose ``decode`` adds the STVG record keys (``sted``, ``boxes``: ``grounding.models.
bridge_stg``) on a manifest whose rows carry the STVG block and a tube table gets, besides the
temporal metrics of its windows, ``evaluate_stvg`` (``grounding.metrics.stvg_records``) against
the rows' GT tubes (``grounding.data.stvg.ground_truth_rows``) under ``protocol`` (TubeDETR's by
default: the 5 fps grid the patch features use). ``flat_metrics`` names its numbers for logs and
tables: pooled ``m_tIoU``, ``m_vIoU``, ``vIoU@0.3``, ``vIoU@0.5``, ``m_sIoU`` (VidSTG papers never
pool; the per-type ones are there too) and ``<qtype>/<metric>`` per sentence type.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from grounding.data.stvg import Tubes, ground_truth_rows
from grounding.metrics.stvg_records import evaluate_stvg
from groundwork.cache.manifest import ManifestInfo

STVG_KEYS = ("sted", "boxes")


def has_stvg(preds: Sequence[dict[str, Any]]) -> bool:
    """Whether prediction rows carry the STVG record keys."""
    return bool(preds) and all(k in preds[0] for k in STVG_KEYS)


def stvg_result(
    info: ManifestInfo,
    rows: list[dict[str, Any]],
    preds: Sequence[dict[str, Any]],
    protocol: str = "tubedetr",
    tubes: Tubes | None = None,
) -> dict[str, Any] | None:
    """``evaluate_stvg`` of ``preds`` against the GT tubes of ``rows``; None when the predictions
    are not STVG records or no row has a GT tube."""
    if not has_stvg(preds):
        return None
    gt = ground_truth_rows(info, rows, tubes)
    if not gt:
        return None
    records = [{"qid": p["qid"], "vid": p["vid"], "sted": p["sted"], "boxes": p["boxes"]} for p in preds]
    return evaluate_stvg(records, gt, protocol, gt_name=f"{info.path} (+ tube table)")


def flat_metrics(result: dict[str, Any] | None) -> dict[str, float]:
    """``{"m_tIoU": .., "m_vIoU": .., ..., "declarative/m_vIoU": .., ...}`` (see the module doc)."""
    if result is None:
        return {}
    groups = result["metrics"]
    pooled = result.get("pooled_over_qtypes") or next(iter(groups.values()))
    out = {k: float(v) for k, v in pooled.items() if k != "n"}
    if len(groups) > 1:
        out |= {f"{qtype}/{k}": float(v) for qtype, m in groups.items() for k, v in m.items() if k != "n"}
    return out
