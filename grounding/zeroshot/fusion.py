"""GranAlign's Step D: the per-frame score of a query,

    S_f = 1/(2m) * sum_{i=1..m} [ g(q_s^(i), C_agn,f) + g(q_d^(i), C_awr,f) ]

with ``g`` the cosine similarity min-max normalised per curve (``normalise``), simplified rewrites
``q_s`` paired with the query-agnostic captions of every frame and detailed rewrites ``q_d`` with
the query-aware captions of the key frames. A curve over key frames is normalised over those
frames and is 0 on the other frames (``missing_aware="zero"``, the notes' recommendation), or the
detailed rewrite is compared with the agnostic caption there and the whole curve normalised
(``missing_aware="agnostic"``).

``PAIRINGS`` names the paper's pairing ablation: one channel alone, the original query against
either caption type, the crossed pairing. A query without rewrites uses its original text in
both roles (the notes' fallback for an unseen query); a query whose pairing needs query-aware
captions it does not have (an unseen query: no VLM ran for it) falls back to one channel over the
agnostic captions, the simplified one or the original query's (``fallback``). ``Fused`` says which
channels ran and why, for the prediction row's metadata.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

import numpy as np

from grounding.zeroshot.grid import FrameGrid
from grounding.zeroshot.normalise import EPS, minmax_rows, unit_rows

Role = Literal["simplified", "detailed", "original"]
Source = Literal["agnostic", "aware"]
Channel = tuple[Role, Source]
Pairing = Literal[
    "both", "simplified_only", "detailed_only", "original_agnostic", "original_aware", "original_both", "crossed"
]
MissingAware = Literal["zero", "agnostic"]
Fallback = Literal["simplified", "original"]

PAIRINGS: dict[str, tuple[Channel, ...]] = {
    "both": (("simplified", "agnostic"), ("detailed", "aware")),  # the full method
    "simplified_only": (("simplified", "agnostic"),),
    "detailed_only": (("detailed", "aware"),),
    "original_agnostic": (("original", "agnostic"),),  # the ablation's "Q_r -> C_agn" row
    "original_aware": (("original", "aware"),),  # "Q_r -> C_awr"
    "original_both": (("original", "agnostic"), ("original", "aware")),
    "crossed": (("simplified", "aware"), ("detailed", "agnostic")),  # the mismatched pairing the paper rejects
}
FALLBACKS: dict[str, Channel] = {"simplified": ("simplified", "agnostic"), "original": ("original", "agnostic")}


@dataclass(frozen=True)
class QueryTexts:
    """Sentence vectors of a query: the original (D,) and its m rewrite pairs, ``simplified`` and
    ``detailed`` (m, D) each; m = 0 when the query has no rewrites."""

    original: np.ndarray
    simplified: np.ndarray
    detailed: np.ndarray

    @property
    def m(self) -> int:
        return len(self.simplified)


@dataclass(frozen=True)
class AwareCaptions:
    """Query-aware captions of the key frames: vectors (K, D) and their grid frame indices (K,)."""

    vectors: np.ndarray
    frames: np.ndarray

    def __len__(self) -> int:
        return len(self.frames)


@dataclass
class Fused:
    """``curve`` (L,): S_f; ``rows`` (R, L): the normalised curves averaged into it (2m for the
    full method); ``channels``: ``role->source`` names of what ran; ``fallback``: why the
    configured pairing did not run as configured ("" when it did)."""

    curve: np.ndarray
    rows: np.ndarray
    channels: list[str] = field(default_factory=list)
    fallback: str = ""


def _role(texts: QueryTexts, role: Role) -> np.ndarray:
    if role == "original" or texts.m == 0:
        return np.asarray(texts.original, dtype=np.float32).reshape(1, -1)
    return texts.simplified if role == "simplified" else texts.detailed


def _agnostic(queries: np.ndarray, grid: FrameGrid, eps: float) -> np.ndarray:
    return minmax_rows(unit_rows(queries) @ unit_rows(grid.vectors).T, eps=eps)


def _aware(queries: np.ndarray, grid: FrameGrid, aware: AwareCaptions, missing: MissingAware, eps: float) -> np.ndarray:
    q = unit_rows(queries)
    sims = q @ unit_rows(aware.vectors).T  # (m, K)
    frames = np.asarray(aware.frames, dtype=np.int64)
    if missing == "agnostic":  # the detailed rewrite against the agnostic caption where no aware one exists
        full = q @ unit_rows(grid.vectors).T
        full[:, frames] = sims
        return minmax_rows(full, eps=eps)
    total = np.zeros((len(q), len(grid)))
    count = np.zeros(len(grid))
    np.add.at(total.T, frames, sims.T)  # two aware captions on one frame: their mean
    np.add.at(count, frames, 1.0)
    on = count > 0
    mean = np.divide(total, count, out=np.zeros_like(total), where=on)
    return minmax_rows(mean, valid=on, eps=eps)  # normalised over the key frames, 0 elsewhere


def fuse(
    texts: QueryTexts,
    grid: FrameGrid,
    aware: AwareCaptions,
    pairing: Pairing = "both",
    missing_aware: MissingAware = "zero",
    fallback: Fallback = "simplified",
    eps: float = EPS,
) -> Fused:
    """S_f over ``grid`` for one query (see the module doc). ``grid`` must hold at least one frame."""
    if pairing not in PAIRINGS:
        msg = f"fuse: unknown pairing {pairing!r}; known: {', '.join(PAIRINGS)}"
        raise ValueError(msg)
    channels = PAIRINGS[pairing]
    notes = [] if texts.m else ["no rewrites: the original query in both roles"]
    if not len(aware) and any(source == "aware" for _, source in channels):
        channels = (FALLBACKS[fallback],)
        notes.append(f"no query-aware captions: {fallback} -> agnostic only")
    rows = [
        (
            _agnostic(_role(texts, role), grid, eps)
            if source == "agnostic"
            else _aware(_role(texts, role), grid, aware, missing_aware, eps)
        )
        for role, source in channels
    ]
    stacked = np.concatenate(rows, axis=0)
    return Fused(stacked.mean(axis=0), stacked, [f"{r}->{s}" for r, s in channels], "; ".join(notes))
