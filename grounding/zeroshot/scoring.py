"""GranAlign's proposal score ``Score(p) = (1 - lambda) * mu_p + lambda * rho_p`` (lambda = 0.3):
``mu_p`` the mean score of the proposal's high frames, ``rho_p`` its normalised length, taken as in
VTG-GPT (whose 0.5 / 0.5 weighting this is): the proposal's share of the high frames of all kept
proposals. It keeps proposals from being too fragmented (a lone frame scores low) or too long
(one proposal cannot take the length term from the others)."""

from __future__ import annotations

import numpy as np


def proposal_scores(means: np.ndarray, sizes: np.ndarray, length_weight: float = 0.3) -> np.ndarray:
    """(P,) scores from the proposals' mean scores and their high-frame counts."""
    sizes = np.asarray(sizes, dtype=np.float64)
    total = sizes.sum()
    rho = sizes / total if total > 0 else np.zeros_like(sizes)
    return (1.0 - length_weight) * np.asarray(means, dtype=np.float64) + length_weight * rho
