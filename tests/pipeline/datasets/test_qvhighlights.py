"""QVHighlights adapter on the real files in ../shared/data."""

from __future__ import annotations

import pytest

from tests.pipeline.datasets.real import load_real

pytestmark = pytest.mark.shared_data


def test_counts_saliency_and_unlabelled_test() -> None:
    ann = load_real("qvhighlights")
    assert ann.queries_read == {"train": 7218, "val": 1550, "test": 1542}
    test = [q for q in ann.queries if q.split == "test"]
    assert len(test) == 1542 and all(q.windows == () for q in test)
    assert ann.policies.counts["test"]["kept_without_windows"] == 1542
    val = [q for q in ann.queries if q.split == "val"]
    assert len(val) == 1550 and all(q.windows for q in val)
    # three annotators per 2-second clip, one score triple per relevant clip
    assert all(len(q.extra["saliency_scores"]) == len(q.extra["relevant_clip_ids"]) for q in val)
    assert all(len(s) == 3 for q in val for s in q.extra["saliency_scores"])
    first = val[0]  # highlight_val_release.jsonl line 1
    assert (first.query_id, first.video_id, first.windows) == ("2579", "NUsG9BgSes0_210.0_360.0", ((82.0, 150.0),))
