"""VidSTG adapter (temporal part) on the real files in ../shared/data."""

from __future__ import annotations

from collections import Counter

import pytest

from tests.pipeline.datasets.real import load_real

pytestmark = pytest.mark.shared_data


def test_sentences_spans_and_targets() -> None:
    ann = load_real("vidstg")
    # the VidSTG paper's test set: 4,610 declarative and 5,693 interrogative sentences
    kinds = Counter((q.split, q.extra["sentence_type"]) for q in ann.queries)
    assert kinds[("test", "declarative")] == 4610
    assert kinds[("test", "interrogative")] == 5693
    first = ann.queries[0]  # val_annotations.json[0]: vid 10712559773, 29.97 fps, gt frames 510..556
    assert (first.query_id, first.video_id, first.extra["target_id"], first.extra["target_category"]) == (
        "val:0:declarative:0",
        "10712559773",
        2,
        "child",
    )
    assert first.windows == (pytest.approx((510 / 29.97, 556 / 29.97)),)
    assert first.duration == pytest.approx(596 / 29.97)


def test_sentence_counts_per_type_in_stats() -> None:
    """``priors stats`` on the real val / test files (no VidOR boxes here: temporal part only)."""
    from pipeline.stats import dataset_stats

    ann = load_real("vidstg")
    assert ann.tubes == {}
    splits = dataset_stats(ann)["splits"]
    assert splits["val"]["sentence_types"] == {"declarative": 3996, "interrogative": 4960}
    assert splits["test"]["sentence_types"] == {"declarative": 4610, "interrogative": 5693}
    assert (splits["val"]["videos"], splits["test"]["videos"]) == (602, 732)
    first = ann.queries[0].extra["stvg"]  # the STVG block: used_segment, temporal_gt (end exclusive), size
    assert first == {
        "fps": 29.97,
        "frame_count": 596,
        "width": 640,
        "height": 360,
        "segment": [496, 595],
        "gt_sted": [510, 556],
        "target_id": "2",
        "dataset": "vidstg",
    }
