"""Invariants every adapter keeps on the real files, and the registry's error for a bad name."""

from __future__ import annotations

import pytest

from pipeline.datasets import DATASETS
from pipeline.datasets.base import Annotations
from tests.conftest import shared_path
from tests.pipeline.datasets.real import load_real

REAL = [
    "charades_sta",
    "charades_cd",
    "charades_cg",
    "activitynet",
    "activitynet_cd",
    "qvhighlights",
    "tacos",
    "vidstg",
]


def test_every_adapter_is_registered() -> None:
    assert set(REAL) | {"folder"} <= set(DATASETS.names())


def test_unknown_adapter_suggests_the_closest_name() -> None:
    with pytest.raises(ValueError, match=r"unknown dataset 'charades-sta'; did you mean 'charades_sta'\?"):
        DATASETS.get("charades-sta")


@pytest.mark.shared_data
@pytest.mark.parametrize("name", REAL)
def test_real_files_keep_the_invariants(name: str) -> None:
    ann: Annotations = load_real(name)
    ids = [q.query_id for q in ann.queries]
    assert len(ids) == len(set(ids)), "query ids must be unique within a dataset"
    for q in ann.queries:
        video = ann.videos[q.video_id]
        assert q.duration == video.duration > 0
        assert q.text and q.text == q.text.strip()
        for start, end in q.windows:
            assert 0 <= start < end <= q.duration, (q.query_id, q.windows, q.duration)
    # every entry read is either kept or dropped by a counted rule
    for split, read in ann.queries_read.items():
        counts = ann.policies.counts.get(split, {})
        kept = sum(q.split == split for q in ann.queries)
        dropped_rules = sum(n for rule, n in counts.items() if rule.startswith("dropped_"))
        assert read - kept <= dropped_rules
        assert (read == kept) == (dropped_rules == 0)


@pytest.mark.shared_data
def test_ids_are_stable_across_loads() -> None:
    first = load_real("charades_cg")
    again = DATASETS.get("charades_cg")(shared_path("charades_cg"))
    assert [q.query_id for q in first.queries] == [q.query_id for q in again.queries]
