"""The Hungarian matcher against brute force: on random small cases (one and several windows per
query) its assignment has the minimum total cost over every one-to-one assignment."""

from __future__ import annotations

from itertools import permutations

import numpy as np
import pytest
import torch

from grounding.layers.detr import HungarianMatcher, cw_to_se, generalized_span_iou


def _random_case(seed: int, n_queries: int, windows: list[int]) -> tuple[torch.Tensor, ...]:
    g = torch.Generator().manual_seed(seed)
    b, n = len(windows), max(windows)
    logits = torch.randn(b, n_queries, 2, generator=g)
    spans = torch.stack([torch.rand(b, n_queries, generator=g), 0.05 + 0.5 * torch.rand(b, n_queries, generator=g)], -1)
    targets = torch.stack([torch.rand(b, n, generator=g), 0.05 + 0.5 * torch.rand(b, n, generator=g)], -1)
    mask = torch.arange(n)[None, :] < torch.tensor(windows)[:, None]
    targets[~mask] = 7.0  # padding must never be matched
    return logits, spans, targets, mask


def _cost(m: HungarianMatcher, logits, spans, targets, q: int, t: int) -> float:  # noqa: ANN001
    p = logits[q].softmax(-1)[0]
    giou = generalized_span_iou(cw_to_se(spans[q]), cw_to_se(targets[t]))
    return float(m.span_weight * (spans[q] - targets[t]).abs().sum() - m.giou_weight * giou - m.class_weight * p)


def _brute_force(m: HungarianMatcher, logits, spans, targets, n_t: int) -> float:  # noqa: ANN001
    n_q = spans.shape[0]
    if n_t <= n_q:
        return min(
            sum(_cost(m, logits, spans, targets, q, t) for t, q in enumerate(perm))
            for perm in permutations(range(n_q), n_t)
        )
    return min(
        sum(_cost(m, logits, spans, targets, q, t) for q, t in enumerate(perm))
        for perm in permutations(range(n_t), n_q)
    )


@pytest.mark.parametrize("seed", range(12))
def test_matches_brute_force(seed: int) -> None:
    rng = np.random.default_rng(seed)
    n_queries = int(rng.integers(2, 6))
    windows = [int(rng.integers(1, 5)) for _ in range(3)]  # QVHighlights-like: several windows
    m = HungarianMatcher(
        span_weight=float(rng.uniform(1, 10)),
        giou_weight=float(rng.uniform(0, 2)),
        class_weight=float(rng.uniform(0, 4)),
    )
    logits, spans, targets, mask = _random_case(seed, n_queries, windows)
    matches = m(logits, spans, targets, mask)
    for i, (rows, cols) in enumerate(matches):
        assert len(rows) == min(n_queries, windows[i])
        assert len(set(rows.tolist())) == len(rows) and len(set(cols.tolist())) == len(cols)
        assert int(cols.max()) < windows[i]  # never a padded target
        got = sum(_cost(m, logits[i], spans[i], targets[i], q, t) for q, t in zip(rows.tolist(), cols.tolist()))
        assert got == pytest.approx(_brute_force(m, logits[i], spans[i], targets[i], windows[i]), abs=1e-4)


def test_single_window_takes_the_cheapest_query() -> None:
    logits, spans, targets, mask = _random_case(3, 10, [1, 1])
    m = HungarianMatcher()
    cost = m.costs(logits, spans, targets, mask)
    for (rows, cols), c in zip(m(logits, spans, targets, mask), cost, strict=True):
        assert rows.tolist() == [int(np.argmin(c[:, 0]))] and cols.tolist() == [0]


def test_a_row_without_windows_matches_nothing() -> None:
    logits, spans, targets, mask = _random_case(4, 4, [2, 1])
    mask[1] = False
    rows, cols = HungarianMatcher()(logits, spans, targets, mask)[1]
    assert len(rows) == len(cols) == 0
