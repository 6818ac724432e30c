"""ActivityNet Captions and ActivityNet-CD adapters on the real files in ../shared/data."""

from __future__ import annotations

import pytest

from tests.pipeline.datasets.real import load_real

pytestmark = pytest.mark.shared_data


def test_activitynet_counts_and_leading_spaces() -> None:
    ann = load_real("activitynet")
    assert ann.queries_read == {"train": 37421, "val_1": 17505, "val_2": 17031}
    # sentences often start with a space: stripped, and counted
    assert ann.policies.counts["val_1"]["stripped_whitespace"] > 10000
    assert all(q.text == q.text.strip() for q in ann.queries)
    dropped = {s: c["dropped_zero_length"] + c["dropped_start_past_duration"] for s, c in ann.policies.counts.items()}
    kept = {s: sum(q.split == s for q in ann.queries) for s in ann.queries_read}
    assert kept == {s: n - dropped[s] for s, n in ann.queries_read.items()}


def test_activitynet_cd_public_splits() -> None:
    ann = load_real("activitynet_cd")
    assert sorted(ann.queries_read) == ["test_iid", "test_ood", "val"]  # train is not public
    first = ann.queries[0]
    assert (first.query_id, first.video_id, first.windows[0][0]) == ("val:v_6fyIc1vrK4Q:0", "v_6fyIc1vrK4Q", 0.0)
