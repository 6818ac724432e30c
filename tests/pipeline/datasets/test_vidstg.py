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
        "val:0:declarative:0", "10712559773", 2, "child"
    )
    assert first.windows == (pytest.approx((510 / 29.97, 556 / 29.97)),)
    assert first.duration == pytest.approx(596 / 29.97)
